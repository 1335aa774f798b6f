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
  encodeListingValue,
  escapeXmlText,
  MAX_KEY_BYTES,
  parseEncodingType,
  parseMaxKeys,
  S3Error,
} from '@blobcache/s3-protocol';
import { type ListEntry, walkListing } from '../store/list-walk.ts';
import type { BucketContext } from './context.ts';
import { openDocument, optTag, rawTag, tag } from './list-xml.ts';
import { ownerXml } from './owner.ts';
import { requireBucket } from './require-bucket.ts';
import { xmlTextResponse } from './responses.ts';
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

/** One `<Contents>` (or, with `version`, `<Version>`) row, rendered straight to text. */
function objectRow(
  p: ListParams,
  entry: ListEntry & { kind: 'object' },
  owner: string,
  version: boolean,
): string {
  const h = entry.head;
  // escapeXmlText turns the ETag's quotes into &quot; (as the element renderer did).
  const etag = `<ETag>&quot;${escapeXmlText(h.etag)}&quot;</ETag>`;
  const lastModified = rawTag('LastModified', new Date(h.lastModifiedMs).toISOString());
  if (version) {
    return `<Version>${tag('Key', text(p, entry.key))}<VersionId>null</VersionId><IsLatest>true</IsLatest>${lastModified}${etag}${rawTag('Size', h.size)}${owner}<StorageClass>${h.storageClass ?? 'STANDARD'}</StorageClass></Version>`;
  }
  let out = `<Contents>${tag('Key', text(p, entry.key))}${lastModified}${etag}`;
  let algorithms = 0;
  for (const a in h.checksums) {
    out += tag('ChecksumAlgorithm', a);
    algorithms++;
  }
  if (algorithms > 0) out += tag('ChecksumType', h.checksumType ?? 'FULL_OBJECT');
  return `${out}${rawTag('Size', h.size)}${owner}<StorageClass>${h.storageClass ?? 'STANDARD'}</StorageClass></Contents>`;
}

/** The object rows then the common prefixes of a page, as S3 orders them. */
function pageRows(p: ListParams, entries: ListEntry[], owner: string, version = false): string {
  let rows = '';
  let prefixes = '';
  for (const e of entries) {
    if (e.kind === 'object') rows += objectRow(p, e, owner, version);
    else prefixes += `<CommonPrefixes>${tag('Prefix', text(p, e.prefix))}</CommonPrefixes>`;
  }
  return rows + prefixes;
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
  const owner = q.get('fetch-owner') === 'true' ? ownerXml(ctx.auth.accessKeyId) : '';
  const last = page.entries[page.entries.length - 1];
  const body =
    openDocument('ListBucketResult') +
    tag('Name', ctx.bucket) +
    tag('Prefix', text(p, p.prefix)) +
    optTag('Delimiter', p.delimiter === undefined ? undefined : text(p, p.delimiter)) +
    rawTag('MaxKeys', p.maxKeys) +
    (p.encode ? '<EncodingType>url</EncodingType>' : '') +
    rawTag('KeyCount', page.entries.length) +
    rawTag('IsTruncated', page.truncated) +
    optTag('ContinuationToken', token) +
    optTag(
      'NextContinuationToken',
      page.truncated && last ? resumePosition(last).toString('base64url') : undefined,
    ) +
    optTag('StartAfter', startAfterText === undefined ? undefined : text(p, startAfterText)) +
    pageRows(p, page.entries, owner) +
    '</ListBucketResult>';
  return xmlTextResponse(body);
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
  const body =
    openDocument('ListBucketResult') +
    tag('Name', ctx.bucket) +
    tag('Prefix', text(p, p.prefix)) +
    tag('Marker', text(p, marker)) +
    rawTag('MaxKeys', p.maxKeys) +
    optTag('Delimiter', p.delimiter === undefined ? undefined : text(p, p.delimiter)) +
    rawTag('IsTruncated', page.truncated) +
    optTag('NextMarker', nextMarker === undefined ? undefined : text(p, nextMarker)) +
    (p.encode ? '<EncodingType>url</EncodingType>' : '') +
    pageRows(p, page.entries, ownerXml(ctx.auth.accessKeyId)) +
    '</ListBucketResult>';
  return xmlTextResponse(body);
}

async function listObjectVersions(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const p = listParams(ctx);
  const keyMarker = ctx.target.query.get('key-marker') ?? '';
  const page = await collectPage(ctx, p, keyMarker === '' ? undefined : Buffer.from(keyMarker, 'utf8'));
  const last = page.entries[page.entries.length - 1];
  const nextKeyMarker =
    page.truncated && last ? (last.kind === 'object' ? last.key : last.prefix) : undefined;
  const body =
    openDocument('ListVersionsResult') +
    tag('Name', ctx.bucket) +
    tag('Prefix', text(p, p.prefix)) +
    tag('KeyMarker', text(p, keyMarker)) +
    tag('VersionIdMarker', ctx.target.query.get('version-id-marker') ?? '') +
    rawTag('MaxKeys', p.maxKeys) +
    optTag('Delimiter', p.delimiter === undefined ? undefined : text(p, p.delimiter)) +
    (p.encode ? '<EncodingType>url</EncodingType>' : '') +
    rawTag('IsTruncated', page.truncated) +
    optTag('NextKeyMarker', nextKeyMarker === undefined ? undefined : text(p, nextKeyMarker)) +
    (nextKeyMarker === undefined ? '' : '<NextVersionIdMarker>null</NextVersionIdMarker>') +
    pageRows(p, page.entries, ownerXml(ctx.auth.accessKeyId), true) +
    '</ListVersionsResult>';
  return xmlTextResponse(body);
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
