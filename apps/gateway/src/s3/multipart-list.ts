// ListMultipartUploads: uploads in progress, ordered by key, then by initiation time (upload ids
// sort by it), with prefix, delimiter, key-marker, upload-id-marker, max-uploads, encoding-type.
// Invariant: memory is O(max-uploads) whatever the number of uploads: records are scanned once
// (O(uploads of the bucket) time; upload records are keyed by id, not by object key) and only the
// smallest page + 1 candidates are kept, pruned as the scan goes.
import {
  el,
  encodeListingValue,
  optEl,
  parseEncodingType,
  parseMaxKeys,
  S3Error,
  type XmlChild,
} from '@blobcache/s3-protocol';
import type { UploadRecord } from '../store/multipart-records.ts';
import type { BucketContext } from './context.ts';
import { uploadsOf, withUploadErrors } from './multipart-common.ts';
import { effectiveChecksumType } from './multipart-summary.ts';
import { ownerElement } from './owner.ts';
import { requireBucket } from './require-bucket.ts';
import { xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

type Item =
  | { kind: 'upload'; key: Buffer; uploadId: string; record: UploadRecord }
  | { kind: 'prefix'; key: Buffer };

function compareItems(a: Item, b: Item): number {
  const byKey = Buffer.compare(a.key, b.key);
  if (byKey !== 0) return byKey;
  // A common prefix and an upload never share a key (a prefix ends with the delimiter, and a key
  // equal to it would itself be rolled into it).
  const ida = a.kind === 'upload' ? a.uploadId : '';
  const idb = b.kind === 'upload' ? b.uploadId : '';
  return ida < idb ? -1 : ida > idb ? 1 : 0;
}

/** Keeps the `limit` smallest distinct items seen (prefixes deduplicated). */
class SmallestItems {
  readonly #limit: number;
  #items: Item[] = [];
  constructor(limit: number) {
    this.#limit = limit;
  }
  add(item: Item): void {
    this.#items.push(item);
    if (this.#items.length >= 2 * this.#limit + 64) this.#prune();
  }
  #prune(): void {
    this.#items.sort(compareItems);
    const out: Item[] = [];
    for (const it of this.#items) {
      const prev = out[out.length - 1];
      if (prev && prev.kind === 'prefix' && it.kind === 'prefix' && prev.key.equals(it.key)) continue;
      out.push(it);
      if (out.length === this.#limit) break;
    }
    this.#items = out;
  }
  sorted(): Item[] {
    this.#prune();
    return this.#items;
  }
}

async function listMultipartUploads(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const q = ctx.target.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = keyMarker === '' ? '' : (q.get('upload-id-marker') ?? '');
  const encode = parseEncodingType(q.get('encoding-type'));
  let maxUploads: number;
  try {
    maxUploads = parseMaxKeys(q.get('max-uploads')?.trim(), 1000);
  } catch {
    throw new S3Error('InvalidArgument', 'Provided max-uploads not an integer or within integer range', {
      extra: { ArgumentName: 'max-uploads', ArgumentValue: q.get('max-uploads') ?? '' },
    });
  }
  const prefixBytes = Buffer.from(prefix, 'utf8');
  const markerBytes = Buffer.from(keyMarker, 'utf8');
  const delimiterBytes = delimiter ? Buffer.from(delimiter, 'utf8') : undefined;
  const best = new SmallestItems(maxUploads + 1);
  if (maxUploads > 0) {
    for await (const { uploadId, record } of uploadsOf(ctx).uploads(ctx.bucket)) {
      const key = Buffer.from(record.key, 'utf8');
      if (!key.subarray(0, prefixBytes.length).equals(prefixBytes)) continue;
      let item: Item = { kind: 'upload', key, uploadId, record };
      if (delimiterBytes) {
        const at = key.indexOf(delimiterBytes, prefixBytes.length);
        if (at >= 0) item = { kind: 'prefix', key: key.subarray(0, at + delimiterBytes.length) };
      }
      if (keyMarker !== '') {
        const c = Buffer.compare(item.key, markerBytes);
        if (c < 0) continue;
        if (c === 0 && (item.kind === 'prefix' || uploadIdMarker === '' || uploadId <= uploadIdMarker))
          continue;
      }
      best.add(item);
    }
  }
  const all = best.sorted();
  const truncated = all.length > maxUploads;
  const page = all.slice(0, maxUploads);
  const last = page[page.length - 1];
  const text = (v: string): string => (encode ? encodeListingValue(v) : v);
  const children: XmlChild[] = [
    el('Bucket', ctx.bucket),
    el('KeyMarker', text(keyMarker)),
    el('UploadIdMarker', uploadIdMarker),
    optEl('NextKeyMarker', truncated && last ? text(last.key.toString('utf8')) : undefined),
    optEl(
      'NextUploadIdMarker',
      truncated && last ? (last.kind === 'upload' ? last.uploadId : '') : undefined,
    ),
    optEl('Delimiter', delimiter === undefined ? undefined : text(delimiter)),
    el('Prefix', text(prefix)),
    el('MaxUploads', maxUploads),
    optEl('EncodingType', encode ? 'url' : undefined),
    el('IsTruncated', truncated),
    ...page
      .filter((i): i is Item & { kind: 'upload' } => i.kind === 'upload')
      .map((u) =>
        el('Upload', [
          el('Key', text(u.record.key)),
          el('UploadId', u.uploadId),
          ownerElement(u.record.owner, 'Initiator'),
          ownerElement(u.record.owner),
          el('StorageClass', u.record.storageClass ?? 'STANDARD'),
          el('Initiated', new Date(u.record.initiatedMs)),
          optEl('ChecksumAlgorithm', u.record.checksumAlgorithm),
          optEl(
            'ChecksumType',
            u.record.checksumAlgorithm
              ? effectiveChecksumType(u.record.checksumAlgorithm, u.record.checksumType)
              : undefined,
          ),
        ]),
      ),
    ...page
      .filter((i) => i.kind === 'prefix')
      .map((p) => el('CommonPrefixes', [el('Prefix', text(p.key.toString('utf8')))])),
  ];
  return xmlResponse(el('ListMultipartUploadsResult', children));
}

export const listUploadsRoutes: S3Route[] = [
  {
    operation: 'ListMultipartUploads',
    method: 'GET',
    level: 'bucket',
    param: 'uploads',
    handle: (ctx: BucketContext) => withUploadErrors(() => listMultipartUploads(ctx)),
  },
];
