// Listing: ListObjectsV2, ListObjects (v1) and ListObjectVersions (every object is its only,
// `null` version: versioning is never enabled).
// Invariants:
// - A page costs O(max-keys): heads come inline from the engine's key index, and common prefixes
//   are skipped in one seek (store/list-walk.ts).
// - Continuation tokens are the base64url of the raw key position to resume after, so they stay
//   valid whatever is written or deleted between pages.
// - With encoding-type=url every key-like field is percent-encoded (`+` as `%2B`), because botocore
//   decodes them with unquote_plus.
import {
  el,
  encodeListingValue,
  MAX_KEY_BYTES,
  optEl,
  parseEncodingType,
  parseMaxKeys,
  S3Error,
  type XmlChild,
  type XmlElement,
} from '@blobcache/s3-protocol';
import { type ListEntry, walkListing } from '../store/list-walk.ts';
import type { BucketContext } from './context.ts';
import { ownerElement } from './owner.ts';
import { requireBucket } from './require-bucket.ts';
import { xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

const MAX_KEYS_LIMIT = 1000;
const SKIP_PAST = Buffer.from([0xff]);

type ListParams = {
  prefix: string;
  delimiter?: string;
  maxKeys: number;
  encode: boolean;
};

function listParams(ctx: BucketContext): ListParams {
  const q = ctx.target.query;
  const delimiter = q.get('delimiter');
  return {
    prefix: q.get('prefix') ?? '',
    ...(delimiter ? { delimiter } : {}),
    maxKeys: parseMaxKeys(q.get('max-keys')?.trim(), MAX_KEYS_LIMIT),
    encode: parseEncodingType(q.get('encoding-type')),
  };
}

type Page = { entries: ListEntry[]; truncated: boolean };

/** Up to maxKeys entries (objects and common prefixes both count) and whether more follow. */
async function collectPage(ctx: BucketContext, p: ListParams, startAfter: Buffer | undefined): Promise<Page> {
  const entries: ListEntry[] = [];
  if (p.maxKeys === 0) return { entries, truncated: false };
  // No key is longer than MAX_KEY_BYTES, so a longer prefix matches nothing; and for such keys
  // "K > S" equals "K > S[0, MAX_KEY_BYTES)", so a longer position is cut (the engine limits key
  // length too).
  if (Buffer.byteLength(p.prefix, 'utf8') > MAX_KEY_BYTES) return { entries, truncated: false };
  if (startAfter && startAfter.length > MAX_KEY_BYTES) startAfter = startAfter.subarray(0, MAX_KEY_BYTES);
  const walk = walkListing(ctx.store.engine, ctx.bucket, {
    prefix: p.prefix,
    ...(p.delimiter === undefined ? {} : { delimiter: p.delimiter }),
    ...(startAfter === undefined ? {} : { startAfter }),
    batchSize: Math.min(p.maxKeys + 1, MAX_KEYS_LIMIT),
  });
  let truncated = false;
  for await (const entry of walk) {
    if (entries.length === p.maxKeys) {
      truncated = true;
      break;
    }
    entries.push(entry);
  }
  return { entries, truncated };
}

/** Where the next page resumes: after the last key, or past every key under the last prefix. */
function resumePosition(entry: ListEntry): Buffer {
  return entry.kind === 'object' ? entry.keyBytes : Buffer.concat([entry.prefixBytes, SKIP_PAST]);
}

function decodeToken(token: string): Buffer {
  const bytes = Buffer.from(token, 'base64url');
  if (token === '' || !/^[A-Za-z0-9_-]+$/.test(token) || bytes.length === 0) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      extra: { ArgumentName: 'continuation-token' },
    });
  }
  return bytes;
}

function text(p: ListParams, value: string): string {
  return p.encode ? encodeListingValue(value) : value;
}

function contents(
  ctx: BucketContext,
  p: ListParams,
  entry: ListEntry & { kind: 'object' },
  withOwner: boolean,
): XmlElement {
  const h = entry.head;
  const algorithms = Object.keys(h.checksums);
  return el('Contents', [
    el('Key', text(p, entry.key)),
    el('LastModified', new Date(h.lastModifiedMs)),
    el('ETag', `"${h.etag}"`),
    ...algorithms.map((a) => el('ChecksumAlgorithm', a)),
    optEl('ChecksumType', algorithms.length > 0 ? (h.checksumType ?? 'FULL_OBJECT') : undefined),
    el('Size', h.size),
    withOwner ? ownerElement(ctx.auth.accessKeyId) : undefined,
    el('StorageClass', 'STANDARD'),
  ]);
}

function commonPrefixes(p: ListParams, entries: ListEntry[]): XmlChild[] {
  return entries
    .filter((e): e is ListEntry & { kind: 'prefix' } => e.kind === 'prefix')
    .map((e) => el('CommonPrefixes', [el('Prefix', text(p, e.prefix))]));
}

async function listObjectsV2(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const p = listParams(ctx);
  const q = ctx.target.query;
  const token = q.get('continuation-token');
  const startAfterText = q.get('start-after');
  // A continuation token wins over start-after (S3 ignores start-after on later pages).
  // An empty token is no token (S3 echoes it and starts from the beginning).
  const from =
    token !== undefined && token !== ''
      ? decodeToken(token)
      : startAfterText
        ? Buffer.from(startAfterText, 'utf8')
        : undefined;
  const page = await collectPage(ctx, p, from);
  const fetchOwner = q.get('fetch-owner') === 'true';
  const last = page.entries[page.entries.length - 1];
  const children: XmlChild[] = [
    el('Name', ctx.bucket),
    el('Prefix', text(p, p.prefix)),
    optEl('Delimiter', p.delimiter === undefined ? undefined : text(p, p.delimiter)),
    el('MaxKeys', p.maxKeys),
    optEl('EncodingType', p.encode ? 'url' : undefined),
    el('KeyCount', page.entries.length),
    el('IsTruncated', page.truncated),
    optEl('ContinuationToken', token),
    optEl(
      'NextContinuationToken',
      page.truncated && last ? resumePosition(last).toString('base64url') : undefined,
    ),
    optEl('StartAfter', startAfterText === undefined ? undefined : text(p, startAfterText)),
    ...page.entries
      .filter((e): e is ListEntry & { kind: 'object' } => e.kind === 'object')
      .map((e) => contents(ctx, p, e, fetchOwner)),
    ...commonPrefixes(p, page.entries),
  ];
  return xmlResponse(el('ListBucketResult', children));
}

async function listObjectsV1(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const p = listParams(ctx);
  const marker = ctx.target.query.get('marker') ?? '';
  const page = await collectPage(ctx, p, marker === '' ? undefined : Buffer.from(marker, 'utf8'));
  const last = page.entries[page.entries.length - 1];
  const nextMarker =
    page.truncated && p.delimiter !== undefined && last
      ? last.kind === 'object'
        ? last.key
        : last.prefix
      : undefined;
  const children: XmlChild[] = [
    el('Name', ctx.bucket),
    el('Prefix', text(p, p.prefix)),
    el('Marker', text(p, marker)),
    el('MaxKeys', p.maxKeys),
    optEl('Delimiter', p.delimiter === undefined ? undefined : text(p, p.delimiter)),
    el('IsTruncated', page.truncated),
    optEl('NextMarker', nextMarker === undefined ? undefined : text(p, nextMarker)),
    optEl('EncodingType', p.encode ? 'url' : undefined),
    ...page.entries
      .filter((e): e is ListEntry & { kind: 'object' } => e.kind === 'object')
      .map((e) => contents(ctx, p, e, true)),
    ...commonPrefixes(p, page.entries),
  ];
  return xmlResponse(el('ListBucketResult', children));
}

async function listObjectVersions(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const p = listParams(ctx);
  const keyMarker = ctx.target.query.get('key-marker') ?? '';
  const page = await collectPage(ctx, p, keyMarker === '' ? undefined : Buffer.from(keyMarker, 'utf8'));
  const last = page.entries[page.entries.length - 1];
  const nextKeyMarker =
    page.truncated && last ? (last.kind === 'object' ? last.key : last.prefix) : undefined;
  const children: XmlChild[] = [
    el('Name', ctx.bucket),
    el('Prefix', text(p, p.prefix)),
    el('KeyMarker', text(p, keyMarker)),
    el('VersionIdMarker', ctx.target.query.get('version-id-marker') ?? ''),
    el('MaxKeys', p.maxKeys),
    optEl('Delimiter', p.delimiter === undefined ? undefined : text(p, p.delimiter)),
    optEl('EncodingType', p.encode ? 'url' : undefined),
    el('IsTruncated', page.truncated),
    optEl('NextKeyMarker', nextKeyMarker === undefined ? undefined : text(p, nextKeyMarker)),
    optEl('NextVersionIdMarker', nextKeyMarker === undefined ? undefined : 'null'),
    ...page.entries
      .filter((e): e is ListEntry & { kind: 'object' } => e.kind === 'object')
      .map((e) =>
        el('Version', [
          el('Key', text(p, e.key)),
          el('VersionId', 'null'),
          el('IsLatest', true),
          el('LastModified', new Date(e.head.lastModifiedMs)),
          el('ETag', `"${e.head.etag}"`),
          el('Size', e.head.size),
          ownerElement(ctx.auth.accessKeyId),
          el('StorageClass', 'STANDARD'),
        ]),
      ),
    ...commonPrefixes(p, page.entries),
  ];
  return xmlResponse(el('ListVersionsResult', children));
}

export const listRoutes: S3Route[] = [
  {
    operation: 'ListObjectsV2',
    method: 'GET',
    level: 'bucket',
    when: (ctx) => ctx.target.query.get('list-type') === '2',
    handle: listObjectsV2,
  },
  { operation: 'ListObjects', method: 'GET', level: 'bucket', handle: listObjectsV1 },
  {
    operation: 'ListObjectVersions',
    method: 'GET',
    level: 'bucket',
    param: 'versions',
    handle: listObjectVersions,
  },
];
