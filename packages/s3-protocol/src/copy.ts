// The CopyObject / UploadPartCopy request headers. Invariant: a returned source names a
// syntactically valid bucket and a non-empty key decoded exactly once (`+` stays a plus, as in
// paths); a returned byte range is inclusive and inside the source object.

import { S3Error } from './errors.ts';
import { validateBucketName, validateObjectKey } from './names.ts';
import { parseQueryParams } from './query.ts';
import { percentDecodeUtf8 } from './uri.ts';

/** The object named by `x-amz-copy-source`. */
export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

function badSource(value: string): S3Error {
  return new S3Error(
    'InvalidArgument',
    'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    {
      extra: { ArgumentName: 'x-amz-copy-source', ArgumentValue: value },
    },
  );
}

/** Parse `x-amz-copy-source` (`[/]bucket/key[?versionId=v]`, percent-encoded). */
export function parseCopySource(value: string): CopySource {
  const raw = value.trim();
  const q = raw.indexOf('?');
  const pathPart = q === -1 ? raw : raw.slice(0, q);
  const path = pathPart.startsWith('/') ? pathPart.slice(1) : pathPart;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw badSource(value);
  const bucket = percentDecodeUtf8(path.slice(0, slash), false, 'copy source');
  const key = percentDecodeUtf8(path.slice(slash + 1), false, 'copy source');
  validateBucketName(bucket);
  validateObjectKey(key);
  const source: CopySource = { bucket, key };
  if (q !== -1) {
    for (const p of parseQueryParams(raw.slice(q + 1))) {
      if (p.name === 'versionId') source.versionId = p.value;
      else throw badSource(value);
    }
  }
  return source;
}

/**
 * Parse `x-amz-copy-source-range: bytes=first-last` against the source size. Malformed →
 * InvalidArgument; outside the object → InvalidRange.
 */
export function parseCopySourceRange(value: string, sourceSize: number): { start: number; end: number } {
  const m = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(value.trim());
  const start = m ? Number(m[1]) : Number.NaN;
  const end = m ? Number(m[2]) : Number.NaN;
  if (!m || end < start) {
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      { extra: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: value } },
    );
  }
  if (end >= sourceSize) {
    throw new S3Error('InvalidRange', undefined, {
      extra: { RangeRequested: value, ActualObjectSize: String(sourceSize) },
      headers: { 'content-range': `bytes */${sourceSize}` },
    });
  }
  return { start, end };
}

/** Parse `x-amz-metadata-directive` or `x-amz-tagging-directive` (default COPY). */
export function parseCopyDirective(value: string | undefined, header: string): 'COPY' | 'REPLACE' {
  if (value === undefined) return 'COPY';
  const v = value.trim().toUpperCase();
  if (v === 'COPY' || v === 'REPLACE') return v;
  throw new S3Error('InvalidArgument', `Unknown ${header}.`, {
    extra: { ArgumentName: header, ArgumentValue: value },
  });
}
