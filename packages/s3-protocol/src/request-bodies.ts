// Typed readers for the XML request bodies S3 operations take. Invariant: a returned value has
// passed the schema checks S3 applies (required fields present, counts within limits, parts in
// ascending order); anything else is an S3Error with the code S3 uses.

import { S3Error } from './errors.ts';
import { el, type XmlElement } from './xml.ts';
import {
  childElements,
  childText,
  firstChild,
  type ParseXmlOptions,
  parseXml,
  type XmlNode,
} from './xml-parse.ts';

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', undefined, { cause: new Error(detail) });
}

function expectRoot(root: XmlNode, name: string): void {
  if (root.name !== name) throw malformed(`expected <${name}>, got <${root.name}>`);
}

/** One <Part> of a CompleteMultipartUpload body. */
export interface CompletedPart {
  partNumber: number;
  /** The ETag as sent, surrounding quotes removed. */
  etag: string;
  checksumCRC32?: string;
  checksumCRC32C?: string;
  checksumCRC64NVME?: string;
  checksumSHA1?: string;
  checksumSHA256?: string;
}

/** Largest part number S3 accepts. */
export const MAX_PART_NUMBER = 10_000;

/** Strip one pair of surrounding double quotes (also `&quot;`-decoded ones) from an ETag. */
export function unquoteEtag(etag: string): string {
  const t = etag.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/**
 * Parse CompleteMultipartUpload. Throws MalformedXML (schema), InvalidArgument (part number out of
 * range) or InvalidPartOrder (not strictly ascending).
 */
export function parseCompleteMultipartUpload(
  body: string | Uint8Array,
  options?: ParseXmlOptions,
): CompletedPart[] {
  const root = parseXml(body, options);
  expectRoot(root, 'CompleteMultipartUpload');
  const parts: CompletedPart[] = [];
  for (const p of childElements(root, 'Part')) {
    const numText = childText(p, 'PartNumber')?.trim();
    const etag = childText(p, 'ETag');
    if (numText === undefined || etag === undefined) throw malformed('Part needs PartNumber and ETag');
    if (!/^[0-9]{1,9}$/.test(numText)) throw malformed('PartNumber is not an integer');
    const partNumber = Number(numText);
    if (partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw new S3Error(
        'InvalidArgument',
        `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
        {
          extra: { ArgumentName: 'partNumber', ArgumentValue: numText },
        },
      );
    }
    const prev = parts[parts.length - 1];
    if (prev && prev.partNumber >= partNumber) throw new S3Error('InvalidPartOrder');
    const part: CompletedPart = { partNumber, etag: unquoteEtag(etag) };
    const crc32 = childText(p, 'ChecksumCRC32');
    const crc32c = childText(p, 'ChecksumCRC32C');
    const crc64 = childText(p, 'ChecksumCRC64NVME');
    const sha1 = childText(p, 'ChecksumSHA1');
    const sha256 = childText(p, 'ChecksumSHA256');
    if (crc32 !== undefined) part.checksumCRC32 = crc32.trim();
    if (crc32c !== undefined) part.checksumCRC32C = crc32c.trim();
    if (crc64 !== undefined) part.checksumCRC64NVME = crc64.trim();
    if (sha1 !== undefined) part.checksumSHA1 = sha1.trim();
    if (sha256 !== undefined) part.checksumSHA256 = sha256.trim();
    parts.push(part);
  }
  if (parts.length === 0) throw malformed('CompleteMultipartUpload without parts');
  return parts;
}

/** One object named in a DeleteObjects body. */
export interface DeleteObjectEntry {
  key: string;
  versionId?: string;
  /** Conditional delete of this entry: ETag (If-Match), LastModifiedTime and Size, as sent. */
  etag?: string;
  lastModifiedTime?: string;
  size?: string;
}

/** A parsed DeleteObjects body. */
export interface DeleteObjectsRequest {
  quiet: boolean;
  objects: DeleteObjectEntry[];
}

/** Most keys one DeleteObjects request may name. */
export const MAX_DELETE_KEYS = 1000;

/** Parse a DeleteObjects (`<Delete>`) body: 1..1000 objects, keys kept byte-exact (no trimming). */
export function parseDeleteObjects(
  body: string | Uint8Array,
  options?: ParseXmlOptions,
): DeleteObjectsRequest {
  const root = parseXml(body, options);
  expectRoot(root, 'Delete');
  const quietText = childText(root, 'Quiet')?.trim().toLowerCase();
  if (quietText !== undefined && quietText !== 'true' && quietText !== 'false')
    throw malformed('Quiet must be a boolean');
  const objects: DeleteObjectEntry[] = [];
  for (const o of childElements(root, 'Object')) {
    const key = childText(o, 'Key');
    if (key === undefined) throw malformed('Object without Key');
    const entry: DeleteObjectEntry = { key };
    const versionId = childText(o, 'VersionId');
    if (versionId !== undefined) entry.versionId = versionId.trim();
    const etag = childText(o, 'ETag');
    if (etag !== undefined) entry.etag = etag.trim();
    const lastModifiedTime = childText(o, 'LastModifiedTime');
    if (lastModifiedTime !== undefined) entry.lastModifiedTime = lastModifiedTime.trim();
    const size = childText(o, 'Size');
    if (size !== undefined) entry.size = size.trim();
    objects.push(entry);
  }
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS)
    throw malformed('Delete must name 1 to 1000 objects');
  return { quiet: quietText === 'true', objects };
}

/**
 * Parse CreateBucketConfiguration. An empty or whitespace-only body means "no configuration"
 * (returns `{}`); a missing or empty LocationConstraint means us-east-1 to S3.
 */
export function parseCreateBucketConfiguration(
  body: string | Uint8Array,
  options?: ParseXmlOptions,
): { locationConstraint?: string } {
  const text =
    typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.trim() === '') return {};
  const root = parseXml(body, options);
  expectRoot(root, 'CreateBucketConfiguration');
  const lc = childText(root, 'LocationConstraint')?.trim();
  return lc ? { locationConstraint: lc } : {};
}

/** One tag of a Tagging body. */
export interface Tag {
  key: string;
  value: string;
}

/** Limits for parseTagging: S3 allows 10 tags per object and 50 per bucket. */
export interface ParseTaggingOptions extends ParseXmlOptions {
  maxTags?: number;
}

/** Parse `<Tagging><TagSet><Tag><Key/><Value/></Tag>...`; duplicate or oversized tags → InvalidTag. */
export function parseTagging(body: string | Uint8Array, options: ParseTaggingOptions = {}): Tag[] {
  const root = parseXml(body, options);
  expectRoot(root, 'Tagging');
  const tagSet = firstChild(root, 'TagSet');
  if (!tagSet) throw malformed('Tagging without TagSet');
  const tags: Tag[] = [];
  for (const t of childElements(tagSet, 'Tag')) {
    const key = childText(t, 'Key');
    const value = childText(t, 'Value');
    if (key === undefined || value === undefined) throw malformed('Tag needs Key and Value');
    tags.push({ key, value });
  }
  return validateTags(tags, options.maxTags);
}

/**
 * The `x-amz-tagging` header of PutObject, CopyObject and CreateMultipartUpload: URL query
 * encoded (`k1=v1&k2=v2`, `+` for a space), checked like a Tagging body.
 */
export function parseTaggingHeader(value: string): Tag[] {
  const tags: Tag[] = [];
  for (const [key, v] of new URLSearchParams(value)) tags.push({ key, value: v });
  return validateTags(tags);
}

/**
 * S3's rules for object tags: at most `maxTags` (10 per object), keys of 1-128 and values of at most
 * 256 Unicode characters, unique keys, no `aws:` prefix (reserved). Anything else is InvalidTag.
 */
export function validateTags(tags: Tag[], maxTags = 10): Tag[] {
  const seen = new Set<string>();
  for (const { key, value } of tags) {
    if (key.length === 0 || [...key].length > 128)
      throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if ([...value].length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (key.toLowerCase().startsWith('aws:'))
      throw new S3Error('InvalidTag', 'Your TagKey cannot be prefixed with aws:');
    if (seen.has(key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    seen.add(key);
  }
  if (tags.length > maxTags) throw new S3Error('InvalidTag', `Object tags cannot be greater than ${maxTags}`);
  return tags;
}

/** A PutBucketVersioning body. */
export interface VersioningConfiguration {
  status: 'Enabled' | 'Suspended';
  mfaDelete?: 'Enabled' | 'Disabled';
}

/** Parse `<VersioningConfiguration><Status>Enabled|Suspended</Status>[<MfaDelete>]`. */
export function parseVersioningConfiguration(body: string | Uint8Array): VersioningConfiguration {
  const root = parseXml(body);
  expectRoot(root, 'VersioningConfiguration');
  const status = childText(root, 'Status')?.trim();
  if (status !== 'Enabled' && status !== 'Suspended') throw malformed('Status must be Enabled or Suspended');
  const mfa = childText(root, 'MfaDelete')?.trim();
  if (mfa !== undefined && mfa !== 'Enabled' && mfa !== 'Disabled')
    throw malformed('MfaDelete must be Enabled or Disabled');
  return mfa === undefined ? { status } : { status, mfaDelete: mfa };
}

/** A PutPublicAccessBlock body: each setting false when absent, as S3 reads it. */
export interface PublicAccessBlock {
  blockPublicAcls: boolean;
  ignorePublicAcls: boolean;
  blockPublicPolicy: boolean;
  restrictPublicBuckets: boolean;
}

const PUBLIC_ACCESS_FIELDS = [
  ['BlockPublicAcls', 'blockPublicAcls'],
  ['IgnorePublicAcls', 'ignorePublicAcls'],
  ['BlockPublicPolicy', 'blockPublicPolicy'],
  ['RestrictPublicBuckets', 'restrictPublicBuckets'],
] as const;

/** Parse `<PublicAccessBlockConfiguration>` with its four optional true/false settings. */
export function parsePublicAccessBlock(body: string | Uint8Array): PublicAccessBlock {
  const root = parseXml(body);
  expectRoot(root, 'PublicAccessBlockConfiguration');
  const out: PublicAccessBlock = {
    blockPublicAcls: false,
    ignorePublicAcls: false,
    blockPublicPolicy: false,
    restrictPublicBuckets: false,
  };
  for (const [element, field] of PUBLIC_ACCESS_FIELDS) {
    const text = childText(root, element)?.trim().toLowerCase();
    if (text === undefined) continue;
    if (text !== 'true' && text !== 'false') throw malformed(`${element} must be true or false`);
    out[field] = text === 'true';
  }
  return out;
}

/** The `<PublicAccessBlockConfiguration>` document GetPublicAccessBlock answers. */
export function publicAccessBlockXml(block: PublicAccessBlock): XmlElement {
  return el(
    'PublicAccessBlockConfiguration',
    PUBLIC_ACCESS_FIELDS.map(([element, field]) => el(element, String(block[field]))),
  );
}

export const OBJECT_OWNERSHIP_VALUES: ReadonlySet<string> = new Set([
  'BucketOwnerEnforced',
  'BucketOwnerPreferred',
  'ObjectWriter',
]);

/** Parse `<OwnershipControls><Rule><ObjectOwnership>`: the one rule's setting. */
export function parseOwnershipControls(body: string | Uint8Array): string {
  const root = parseXml(body);
  expectRoot(root, 'OwnershipControls');
  const rules = childElements(root, 'Rule');
  if (rules.length !== 1) throw malformed('OwnershipControls needs exactly one Rule');
  const ownership = childText(rules[0]!, 'ObjectOwnership')?.trim();
  if (ownership === undefined || !OBJECT_OWNERSHIP_VALUES.has(ownership))
    throw malformed('ObjectOwnership must be BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter');
  return ownership;
}
