// An object's head: everything about an object except its bytes. The head put is the commit point
// of a write: the object is exactly what its head says, and its chunks are never modified (a new
// write gets new ids). Invariant: `size` equals the sum of the parts' bytes, or, for a small object
// stored inline (`inline`), the length of the inline bytes (and `parts` is empty).
// Encoding: the head JSON, then — for an inline object only — one `\n` and the raw bytes.
// JSON.stringify never emits a raw newline, so the first 0x0A byte always ends the JSON.
import assert from 'node:assert/strict';
import type { CorsRule, PublicAccessBlock } from '@blobcache/s3-protocol';
import { z } from 'zod';

export const checksumAlgorithms = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof checksumAlgorithms)[number];

const partSchema = z.object({
  id: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  /**
   * Base64 checksum of this part alone, of the object's one algorithm (the key of `checksums`),
   * kept only where S3 answers a `?partNumber` read with it (multipart-summary.ts:
   * partChecksumAlgorithm). Absent in heads written before it existed: no part checksum then.
   * Cost: at most 44 base64 chars (SHA256) + 14 of JSON per part (61 → 119 bytes an entry), so
   * the worst 10,000-part list grows from 610 KB to 1.19 MB. Past the inline head limit
   * (ObjectStore's maxInlineHeadBytes, 8 KiB in open-store.ts: ~130 entries without checksums,
   * ~65 with) the list moves to one `l/<versionId>` value, bounded by the engine's maxValueBytes
   * (64 MiB by default) and read once per GET of that object, never by listings.
   */
  checksum: z.string().min(1).optional(),
});
export type DataPart = z.infer<typeof partSchema>;

/** Object tags (s3-protocol validateTags checked them on the way in). */
export const tagsSchema = z.array(z.object({ key: z.string(), value: z.string() }));

export const objectHeadSchema = z.object({
  versionId: z.string().min(1),
  size: z.number().int().nonnegative(),
  /** Unquoted: hex MD5, or `<hex>-<partCount>` for multipart objects. */
  etag: z.string().min(1),
  lastModifiedMs: z.number().int(),
  contentType: z.string(),
  contentEncoding: z.string().optional(),
  contentDisposition: z.string().optional(),
  contentLanguage: z.string().optional(),
  cacheControl: z.string().optional(),
  expires: z.string().optional(),
  /** User metadata, names lower-cased without the `x-amz-meta-` prefix. */
  meta: z.record(z.string(), z.string()),
  /** Object tags (at most 10, s3-protocol validateTags), in the order set; absent = none. */
  tags: tagsSchema.optional(),
  /** Base64 checksum values by algorithm (a composite value looks like `<b64>-N`). */
  checksums: z.partialRecord(z.enum(checksumAlgorithms), z.string()),
  checksumType: z.enum(['FULL_OBJECT', 'COMPOSITE']).optional(),
  /**
   * The multipart upload this version completed. A retried CompleteMultipartUpload (the client
   * lost the first answer) finds its upload gone, and is answered from this head while it is
   * still the current version, as S3 does, instead of NoSuchUpload.
   */
  completedUploadId: z.string().optional(),
  /** Number of parts for multipart objects; absent for single PUTs. */
  partCount: z.number().int().positive().optional(),
  /** Data parts in order; absent when stored separately under `l/<versionId>` (`partsRef`). */
  parts: z.array(partSchema).optional(),
  partsRef: z.literal(true).optional(),
  /** Free-form extension fields owned by other modules (e.g. multipart part boundaries). */
  ext: z.record(z.string(), z.unknown()).optional(),
  /** SSE-S3: the data (chunks or inline bytes) is encrypted at rest (sse.ts). */
  sse: z.literal('AES256').optional(),
  /** The storage class the write asked for (s3-protocol parseStorageClass); absent = STANDARD. */
  storageClass: z
    .string()
    .regex(/^[A-Z_]+$/)
    .optional(),
});

export type ObjectHead = z.infer<typeof objectHeadSchema> & {
  /** The whole object's bytes, for a small object stored in its head record (no chunks). */
  inline?: Buffer;
};
/** A head whose parts are resolved (loaded from `l/<versionId>` if needed). */
export type ResolvedHead = ObjectHead & { parts: DataPart[] };

const NEWLINE = 0x0a;

export function encodeHead(head: ObjectHead): Buffer {
  // The listing fields go first, in this order, so decodeListedHead can read them without parsing
  // the rest. Any order is still valid JSON for decodeHead; this one is just the fast one.
  const { inline, size, lastModifiedMs, etag, checksumType, checksums, storageClass, ...rest } = head;
  const fields = {
    size,
    lastModifiedMs,
    etag,
    ...(checksumType === undefined ? {} : { checksumType }),
    checksums,
    // Right after `checksums`, where decodeListedHead looks for it.
    ...(storageClass === undefined ? {} : { storageClass }),
    ...rest,
  };
  const json = Buffer.from(JSON.stringify(fields), 'utf8');
  if (inline === undefined) return json;
  assert(head.parts?.length === 0 && inline.length === head.size, 'an inline head has no parts');
  return Buffer.concat([json, Buffer.of(NEWLINE), inline]);
}

export function decodeHead(bytes: Uint8Array): ObjectHead {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nl = buf.indexOf(NEWLINE);
  const json: unknown = JSON.parse(buf.toString('utf8', 0, nl < 0 ? buf.length : nl));
  // Every GET and listed key decodes a head: zod costs more than the JSON parse, so a head that
  // passes the exact hand check below is taken as is; anything else gets zod's verdict.
  const head: ObjectHead = isPlainHead(json) ? json : objectHeadSchema.parse(json);
  assert(head.parts !== undefined || head.partsRef === true, 'a head has parts inline or by reference');
  if (nl >= 0) {
    head.inline = buf.subarray(nl + 1);
    assert(head.parts?.length === 0 && head.inline.length === head.size, 'inline bytes match the size');
  }
  return head;
}

/** The head fields a listing row shows; everything else in the record is left unread. */
export type ListedHead = Pick<
  ObjectHead,
  'size' | 'etag' | 'lastModifiedMs' | 'checksums' | 'checksumType' | 'storageClass'
>;

// The start of a head written by encodeHead, up to the end of `checksums`. Every captured value
// is plain ASCII without JSON escapes (hex ETags, base64 checksums), so the text is the value.
const LISTED_PREFIX =
  /^\{"size":(\d{1,16}),"lastModifiedMs":(-?\d{1,16}),"etag":"([0-9A-Za-z-]+)",(?:"checksumType":"(FULL_OBJECT|COMPOSITE)",)?"checksums":\{((?:"(?:CRC32|CRC32C|CRC64NVME|SHA1|SHA256)":"[A-Za-z0-9+/=-]+",?)*)\}/;
const LISTED_PREFIX_SCAN_BYTES = 512;
/** What encodeHead writes after `checksums` for an object not in STANDARD: then `<CLASS>"`. */
const STORAGE_CLASS_FIELD = Buffer.from(',"storageClass":"', 'latin1');
const QUOTE = 0x22;

/** The class written right after `checksums` (which closes at `end`), if any. */
function listedStorageClass(buf: Buffer, end: number): string | undefined {
  const from = end + 1 + STORAGE_CLASS_FIELD.length;
  if (from > buf.length) return undefined;
  if (buf.compare(STORAGE_CLASS_FIELD, 0, STORAGE_CLASS_FIELD.length, end + 1, from) !== 0) return undefined;
  const close = buf.indexOf(QUOTE, from);
  return close > from && close - from <= 40 ? buf.toString('latin1', from, close) : undefined;
}
const CLOSE_BRACE = 0x7d;

/**
 * Listing's partial decode: only the fields a listing row shows, read from the fixed prefix
 * encodeHead writes (no JSON.parse of metadata and part lists, never touching inline bytes). A
 * record whose start does not match gets decodeHead's full verdict, so an unusual or corrupt head
 * is still decoded exactly or refused loudly.
 */
export function decodeListedHead(bytes: Uint8Array): ListedHead {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // In that layout the first `}` closes `checksums`: only the bytes up to it are looked at.
  const end = buf.indexOf(CLOSE_BRACE);
  const m =
    end > 0 && end < LISTED_PREFIX_SCAN_BYTES ? LISTED_PREFIX.exec(buf.toString('latin1', 0, end + 1)) : null;
  if (m) {
    const size = Number(m[1]);
    const lastModifiedMs = Number(m[2]);
    if (Number.isSafeInteger(size) && Number.isSafeInteger(lastModifiedMs)) {
      const checksums: ListedHead['checksums'] = {};
      const list = m[5]!;
      if (list !== '') {
        for (const pair of list.split(',')) {
          const colon = pair.indexOf(':');
          checksums[pair.slice(1, colon - 1) as ChecksumAlgorithm] = pair.slice(colon + 2, -1);
        }
      }
      const type = m[4] as ListedHead['checksumType'];
      const cls = listedStorageClass(buf, end);
      return {
        size,
        lastModifiedMs,
        etag: m[3]!,
        checksums,
        ...(type === undefined ? {} : { checksumType: type }),
        ...(cls === undefined ? {} : { storageClass: cls }),
      };
    }
  }
  return decodeHead(bytes);
}

const STRING_FIELDS = new Set([
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'expires',
]);
const CHECKSUM_NAMES: ReadonlySet<string> = new Set(checksumAlgorithms);

const isNat = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const allStrings = (o: Record<string, unknown>, keyOk: (k: string) => boolean): boolean => {
  for (const k in o) if (!keyOk(k) || typeof o[k] !== 'string') return false;
  return true;
};

/**
 * True only for a value `objectHeadSchema.parse` would return unchanged (every known field of the
 * right type, no unknown field): then skipping zod changes nothing.
 */
function isPlainHead(v: unknown): v is ObjectHead {
  if (!isObject(v)) return false;
  for (const k in v) {
    const x = v[k];
    switch (k) {
      case 'versionId':
      case 'etag':
        if (typeof x !== 'string' || x.length === 0) return false;
        break;
      case 'size':
        if (!isNat(x)) return false;
        break;
      case 'lastModifiedMs':
        if (!Number.isSafeInteger(x)) return false;
        break;
      case 'contentType':
        if (typeof x !== 'string') return false;
        break;
      case 'meta':
        if (!isObject(x) || !allStrings(x, () => true)) return false;
        break;
      case 'checksums':
        if (!isObject(x) || !allStrings(x, (name) => CHECKSUM_NAMES.has(name))) return false;
        break;
      case 'checksumType':
        if (x !== 'FULL_OBJECT' && x !== 'COMPOSITE') return false;
        break;
      case 'partCount':
        if (!isNat(x) || x === 0) return false;
        break;
      case 'parts':
        if (!Array.isArray(x)) return false;
        for (const p of x) {
          if (!isObject(p) || typeof p.id !== 'string' || p.id.length === 0 || !isNat(p.bytes)) return false;
          const keys = Object.keys(p).length;
          if (p.checksum === undefined ? keys !== 2 : typeof p.checksum !== 'string' || keys !== 3)
            return false;
          if (p.checksum === '') return false;
        }
        break;
      case 'partsRef':
        if (x !== true) return false;
        break;
      case 'ext':
        if (!isObject(x)) return false;
        break;
      default:
        if (!STRING_FIELDS.has(k) || typeof x !== 'string') return false;
    }
  }
  return (
    typeof v.versionId === 'string' &&
    typeof v.etag === 'string' &&
    typeof v.contentType === 'string' &&
    v.size !== undefined &&
    v.lastModifiedMs !== undefined &&
    v.meta !== undefined &&
    v.checksums !== undefined
  );
}

export function encodePartList(parts: DataPart[]): Buffer {
  return Buffer.from(JSON.stringify(parts), 'utf8');
}

export function decodePartList(bytes: Uint8Array): DataPart[] {
  return z.array(partSchema).parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
}

/** A bucket: when and for which region it was created, its tags, versioning state, policy and CORS rules. */
export type BucketRecord = {
  createdMs: number;
  region: string;
  tags?: Array<{ key: string; value: string }>;
  /** Set by PutBucketVersioning; versioning itself is never enabled (every object is `null`). */
  versioning?: 'Suspended';
  /** The bucket policy document as PutBucketPolicy received it (validated then: s3/authorize.ts). */
  policy?: string;
  /** The bucket's own CORS rules (PutBucketCors); absent: the gateway-wide policy (cors.ts). */
  cors?: CorsRule[];
  /** PutPublicAccessBlock's settings (s3/public-access.ts); absent: none set. */
  publicAccessBlock?: PublicAccessBlock;
  /** The LifecycleConfiguration document as put (validated then; carried out by lifecycle-sweep.ts). */
  lifecycle?: string;
  /** Default encryption (PutBucketEncryption): new objects without their own SSE header get it. */
  encryption?: 'AES256';
};

const bucketRecordSchema = z.object({
  createdMs: z.number().int(),
  region: z.string(),
  tags: tagsSchema.optional(),
  versioning: z.literal('Suspended').optional(),
  policy: z.string().optional(),
  cors: z
    .array(
      z.object({
        id: z.string().optional(),
        allowedOrigins: z.array(z.string()),
        allowedMethods: z.array(z.string()),
        allowedHeaders: z.array(z.string()),
        exposeHeaders: z.array(z.string()),
        maxAgeSeconds: z.number().int().optional(),
      }),
    )
    .optional(),
  publicAccessBlock: z
    .object({
      blockPublicAcls: z.boolean(),
      ignorePublicAcls: z.boolean(),
      blockPublicPolicy: z.boolean(),
      restrictPublicBuckets: z.boolean(),
    })
    .optional(),
  lifecycle: z.string().optional(),
  encryption: z.literal('AES256').optional(),
});

export function encodeBucket(record: BucketRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

export function decodeBucket(bytes: Uint8Array): BucketRecord {
  return bucketRecordSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
}
