// ListObjectsV2 / ListObjects on a mapped bucket: the upstream's listing, page by page.
// Invariants:
// - Continuation tokens are ours: the base64url of the position to resume after (the last key, or
//   a common prefix followed by the highest code point), sent upstream as StartAfter. They carry no
//   upstream state, survive gateway restarts and never expose the upstream's tokens.
// - Key-like fields are encoded here for encoding-type=url (the upstream is asked for raw keys).
// - Listing never touches the object cache. Pages may be reused for BLOBCACHE_LIST_TTL (default 0:
//   never); a write through this gateway drops its bucket's pages at once.
import {
  type _Object,
  type CommonPrefix,
  ListObjectsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import {
  el,
  encodeListingValue,
  optEl,
  parseEncodingType,
  parseMaxKeys,
  S3Error,
  type XmlChild,
} from '@blobcache/s3-protocol';
import type { BucketContext } from '../s3/context.ts';
import { ownerElement } from '../s3/owner.ts';
import { xmlResponse } from '../s3/responses.ts';
import type { UpstreamCache } from './upstream-cache.ts';
import { upstreamWriteError } from './upstream-errors.ts';

const MAX_KEYS_LIMIT = 1000;
/** Sorts after every valid UTF-8 continuation of a prefix. */
const PAST_PREFIX = '\u{10FFFF}';

export function encodeListToken(position: string): string {
  return Buffer.from(position, 'utf8').toString('base64url');
}

export function decodeListToken(token: string): string {
  const bytes = Buffer.from(token, 'base64url');
  const text = bytes.toString('utf8');
  if (token === '' || !/^[A-Za-z0-9_-]+$/.test(token) || Buffer.from(text, 'utf8').compare(bytes) !== 0) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      extra: { ArgumentName: 'continuation-token' },
    });
  }
  return text;
}

type Entry = { kind: 'object'; key: string; o: _Object } | { kind: 'prefix'; prefix: string };

/** Contents and CommonPrefixes merged in key (UTF-8 byte) order. */
function merged(contents: _Object[] | undefined, prefixes: CommonPrefix[] | undefined): Entry[] {
  const out: Entry[] = [
    ...(contents ?? []).map((o) => ({ kind: 'object' as const, key: o.Key ?? '', o })),
    ...(prefixes ?? []).map((p) => ({ kind: 'prefix' as const, prefix: p.Prefix ?? '' })),
  ];
  const keyOf = (e: Entry): Buffer => Buffer.from(e.kind === 'object' ? e.key : e.prefix, 'utf8');
  return out.sort((a, b) => keyOf(a).compare(keyOf(b)));
}

function resumeAfter(e: Entry): string {
  return e.kind === 'object' ? e.key : `${e.prefix}${PAST_PREFIX}`;
}

function contentsElement(ctx: BucketContext, o: _Object, encode: boolean, withOwner: boolean) {
  const key = o.Key ?? '';
  return el('Contents', [
    el('Key', encode ? encodeListingValue(key) : key),
    el('LastModified', o.LastModified ?? new Date(0)),
    el('ETag', o.ETag ?? '""'),
    ...(o.ChecksumAlgorithm ?? []).map((a) => el('ChecksumAlgorithm', a)),
    el('Size', o.Size ?? 0),
    withOwner ? ownerElement(ctx.auth.accessKeyId) : undefined,
    el('StorageClass', o.StorageClass ?? 'STANDARD'),
  ]);
}

function prefixElements(entries: Entry[], encode: boolean): XmlChild[] {
  return entries
    .filter((e): e is Entry & { kind: 'prefix' } => e.kind === 'prefix')
    .map((e) => el('CommonPrefixes', [el('Prefix', encode ? encodeListingValue(e.prefix) : e.prefix)]));
}

type PageRequest = {
  v: 1 | 2;
  prefix: string;
  delimiter: string | undefined;
  maxKeys: number;
  /** v2: StartAfter (our token's position or start-after); v1: Marker. */
  from: string | undefined;
};
type Page = { entries: Entry[]; truncated: boolean };

/** One upstream listing page, reused within BLOBCACHE_LIST_TTL (see UpstreamCache.forget). */
async function fetchPage(up: UpstreamCache, ub: string, r: PageRequest): Promise<Page & { reused: boolean }> {
  if (r.maxKeys === 0) return { entries: [], truncated: false, reused: false };
  const shape = JSON.stringify([r.v, r.prefix, r.delimiter ?? null, r.maxKeys, r.from ?? null]);
  const kept = up.listingPage<Page>(ub, shape);
  if (kept) return { ...kept, reused: true };
  up.counters.inc('upstreamRequests');
  const common = {
    Bucket: ub,
    Prefix: r.prefix,
    MaxKeys: r.maxKeys,
    ...(r.delimiter !== undefined ? { Delimiter: r.delimiter } : {}),
  };
  let page: Page;
  try {
    const out =
      r.v === 2
        ? await up.client.send(
            new ListObjectsV2Command({ ...common, ...(r.from !== undefined ? { StartAfter: r.from } : {}) }),
          )
        : await up.client.send(
            new ListObjectsCommand({ ...common, ...(r.from !== undefined ? { Marker: r.from } : {}) }),
          );
    page = {
      entries: merged(out.Contents, out.CommonPrefixes).slice(0, r.maxKeys),
      truncated: out.IsTruncated === true,
    };
  } catch (err) {
    throw upstreamWriteError(up.endpoint, err);
  }
  up.rememberListingPage(ub, shape, page);
  return { ...page, reused: false };
}

export async function listObjectsV2Through(
  up: UpstreamCache,
  ctx: BucketContext,
  ub: string,
): Promise<Response> {
  const q = ctx.target.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const maxKeys = parseMaxKeys(q.get('max-keys')?.trim(), MAX_KEYS_LIMIT);
  const encode = parseEncodingType(q.get('encoding-type'));
  const token = q.get('continuation-token');
  const startAfterText = q.get('start-after');
  const from = token !== undefined ? decodeListToken(token) : startAfterText || undefined;
  const { entries, truncated, reused } = await fetchPage(up, ub, {
    v: 2,
    prefix,
    delimiter,
    maxKeys,
    from,
  });
  const last = entries[entries.length - 1];
  const text = (v: string): string => (encode ? encodeListingValue(v) : v);
  const children: XmlChild[] = [
    el('Name', ctx.bucket),
    el('Prefix', text(prefix)),
    optEl('Delimiter', delimiter === undefined ? undefined : text(delimiter)),
    el('MaxKeys', maxKeys),
    optEl('EncodingType', encode ? 'url' : undefined),
    el('KeyCount', entries.length),
    el('IsTruncated', truncated),
    optEl('ContinuationToken', token),
    optEl('NextContinuationToken', truncated && last ? encodeListToken(resumeAfter(last)) : undefined),
    optEl('StartAfter', startAfterText === undefined ? undefined : text(startAfterText)),
    ...entries
      .filter((e): e is Entry & { kind: 'object' } => e.kind === 'object')
      .map((e) => contentsElement(ctx, e.o, encode, q.get('fetch-owner') === 'true')),
    ...prefixElements(entries, encode),
  ];
  return xmlResponse(el('ListBucketResult', children), 200, { 'x-cache': reused ? 'HIT' : 'MISS' });
}

export async function listObjectsV1Through(
  up: UpstreamCache,
  ctx: BucketContext,
  ub: string,
): Promise<Response> {
  const q = ctx.target.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const maxKeys = parseMaxKeys(q.get('max-keys')?.trim(), MAX_KEYS_LIMIT);
  const encode = parseEncodingType(q.get('encoding-type'));
  const marker = q.get('marker') ?? '';
  const { entries, truncated, reused } = await fetchPage(up, ub, {
    v: 1,
    prefix,
    delimiter,
    maxKeys,
    from: marker === '' ? undefined : marker,
  });
  const last = entries[entries.length - 1];
  const text = (v: string): string => (encode ? encodeListingValue(v) : v);
  const nextMarker =
    truncated && delimiter !== undefined && last
      ? last.kind === 'object'
        ? last.key
        : last.prefix
      : undefined;
  const children: XmlChild[] = [
    el('Name', ctx.bucket),
    el('Prefix', text(prefix)),
    el('Marker', text(marker)),
    el('MaxKeys', maxKeys),
    optEl('Delimiter', delimiter === undefined ? undefined : text(delimiter)),
    el('IsTruncated', truncated),
    optEl('NextMarker', nextMarker === undefined ? undefined : text(nextMarker)),
    optEl('EncodingType', encode ? 'url' : undefined),
    ...entries
      .filter((e): e is Entry & { kind: 'object' } => e.kind === 'object')
      .map((e) => contentsElement(ctx, e.o, encode, true)),
    ...prefixElements(entries, encode),
  ];
  return xmlResponse(el('ListBucketResult', children), 200, { 'x-cache': reused ? 'HIT' : 'MISS' });
}
