// UploadPartCopy (PUT ?partNumber&uploadId with x-amz-copy-source [+ x-amz-copy-source-range]):
// a part whose bytes come from an existing object, streamed chunk by chunk from the pinned source
// version into the part's own data id. The part then behaves exactly like an uploaded one (MD5
// ETag, CRC64NVME and the upload's checksum stored), so completion treats both alike.
import { checksumXmlName, el, parseCopySourceRange, S3Error, toBase64 } from '@blobcache/s3-protocol';
import type { PartRecord } from '../store/multipart-records.ts';
import type { ObjectContext } from './context.ts';
import { digestOf, hashersFor, hashing, openCopySource } from './copy-source.ts';
import { partAlgorithms } from './multipart.ts';
import { MAX_PART_BYTES, partTarget, withUploadErrors } from './multipart-common.ts';
import { xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

/** The part's byte span [start, end) of the source: the whole source, or x-amz-copy-source-range. */
function copySpan(header: string | undefined, size: number): { start: number; end: number } {
  if (header === undefined) return { start: 0, end: size };
  const inclusive = parseCopySourceRange(header, size);
  return { start: inclusive.start, end: inclusive.end + 1 };
}

async function uploadPartCopy(ctx: ObjectContext): Promise<Response> {
  const { partNumber, uploads, uploadId, upload } = await partTarget(ctx);
  const { obj } = await openCopySource(ctx);
  try {
    const range = copySpan(ctx.headers['x-amz-copy-source-range'], obj.head.size);
    const bytes = range.end - range.start;
    if (bytes > MAX_PART_BYTES) {
      throw new S3Error('EntityTooLarge', undefined, {
        extra: { ProposedSize: String(bytes), MaxSizeAllowed: String(MAX_PART_BYTES) },
      });
    }
    const algorithms = partAlgorithms(upload, undefined);
    const hashers = hashersFor(['MD5', ...algorithms]);
    const pending = await uploads.beginPart(ctx.bucket, ctx.key, uploadId, partNumber);
    let record: PartRecord;
    try {
      await pending.write(hashing(obj.read(range.start, range.end), [...hashers.values()]), bytes);
      const checksums: PartRecord['checksums'] = {};
      for (const a of algorithms) checksums[a] = toBase64(digestOf(hashers, a));
      record = await pending.commit({
        etag: digestOf(hashers, 'MD5').toString('hex'),
        lastModifiedMs: Date.now(),
        checksums,
      });
    } catch (err) {
      await pending.abort();
      throw err;
    }
    const shown = upload.checksumAlgorithm;
    return xmlResponse(
      el('CopyPartResult', [
        el('ETag', `"${record.etag}"`),
        el('LastModified', new Date(record.lastModifiedMs)),
        shown ? el(checksumXmlName(shown), record.checksums[shown] as string) : undefined,
      ]),
    );
  } finally {
    obj.release();
  }
}

export const copyPartRoutes: S3Route[] = [
  {
    operation: 'UploadPartCopy',
    method: 'PUT',
    level: 'object',
    param: ['partNumber', 'uploadId'],
    when: (ctx) => ctx.headers['x-amz-copy-source'] !== undefined,
    handle: (ctx: ObjectContext) => withUploadErrors(() => uploadPartCopy(ctx)),
  },
];
