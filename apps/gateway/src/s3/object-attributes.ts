// GetObjectAttributes: an object's ETag, checksum, parts, storage class and size without its
// bytes, the attributes chosen by `x-amz-object-attributes`. Parts page like ListParts
// (`x-amz-max-parts`, `x-amz-part-number-marker`); each part shows its size and, where the head
// keeps one (DataPart.checksum), its own checksum. The ETag is unquoted, as S3 sends it here.
import {
  checksumXmlName,
  el,
  formatHttpDate,
  optEl,
  S3Error,
  validateObjectKey,
  type XmlChild,
} from '@blobcache/s3-protocol';
import type { ChecksumAlgorithm, ObjectHead } from '../store/object-head.ts';
import type { ObjectContext } from './context.ts';
import { integerArgument } from './multipart-common.ts';
import { checkVersionId } from './object-body.ts';
import { requireHead } from './require-bucket.ts';
import { xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];
const DEFAULT_MAX_PARTS = 1000;

function wantedAttributes(ctx: ObjectContext): Set<Attribute> {
  const raw = ctx.headers['x-amz-object-attributes'];
  if (raw === undefined || raw.trim() === '') {
    throw new S3Error(
      'InvalidArgument',
      'Missing required header for this request: x-amz-object-attributes',
      {
        extra: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: '' },
      },
    );
  }
  const wanted = new Set<Attribute>();
  for (const name of raw.split(',')) {
    const attribute = ATTRIBUTES.find((a) => a === name.trim());
    if (attribute === undefined) {
      throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', {
        extra: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: name.trim() },
      });
    }
    wanted.add(attribute);
  }
  return wanted;
}

function checksumElement(head: ObjectHead): XmlChild {
  const entries = Object.entries(head.checksums) as Array<[ChecksumAlgorithm, string]>;
  if (entries.length === 0) return undefined;
  return el('Checksum', [
    ...entries.map(([alg, value]) => el(checksumXmlName(alg), value)),
    el('ChecksumType', head.checksumType ?? 'FULL_OBJECT'),
  ]);
}

async function objectPartsElement(ctx: ObjectContext, head: ObjectHead): Promise<XmlChild> {
  if (head.partCount === undefined) return undefined; // not a multipart object: no parts
  const maxParts = integerArgument('x-amz-max-parts', ctx.headers['x-amz-max-parts'], DEFAULT_MAX_PARTS);
  const marker = integerArgument('x-amz-part-number-marker', ctx.headers['x-amz-part-number-marker'], 0);
  const { parts } = await ctx.store.resolveParts(head);
  const algorithm = Object.keys(head.checksums)[0] as ChecksumAlgorithm | undefined;
  const page = parts.slice(marker, marker + maxParts);
  const truncated = marker + page.length < parts.length;
  return el('ObjectParts', [
    el('PartsCount', head.partCount),
    el('PartNumberMarker', marker),
    optEl('NextPartNumberMarker', page.length > 0 ? marker + page.length : undefined),
    el('MaxParts', maxParts),
    el('IsTruncated', truncated),
    ...page.map((part, i) =>
      el('Part', [
        el('PartNumber', marker + i + 1),
        el('Size', part.bytes),
        part.checksum !== undefined && algorithm !== undefined
          ? el(checksumXmlName(algorithm), part.checksum)
          : undefined,
      ]),
    ),
  ]);
}

async function getObjectAttributes(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  checkVersionId(ctx);
  const wanted = wantedAttributes(ctx);
  const head = await requireHead(ctx);
  return xmlResponse(
    el('GetObjectAttributesResponse', [
      wanted.has('ETag') ? el('ETag', head.etag) : undefined,
      wanted.has('Checksum') ? checksumElement(head) : undefined,
      wanted.has('ObjectParts') ? await objectPartsElement(ctx, head) : undefined,
      wanted.has('StorageClass') ? el('StorageClass', head.storageClass ?? 'STANDARD') : undefined,
      wanted.has('ObjectSize') ? el('ObjectSize', head.size) : undefined,
    ]),
    200,
    { 'last-modified': formatHttpDate(new Date(head.lastModifiedMs)) },
  );
}

export const objectAttributesRoutes: S3Route[] = [
  {
    operation: 'GetObjectAttributes',
    method: 'GET',
    level: 'object',
    param: 'attributes',
    handle: getObjectAttributes,
  },
];
