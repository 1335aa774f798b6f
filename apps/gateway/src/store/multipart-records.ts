// Engine records of multipart uploads in progress. Invariants: upload ids sort by initiation time
// (a fixed-width hex time prefix), so `u/<bucket>/` lists one bucket's uploads oldest first per
// key; part numbers are fixed-width decimal, so `p/<uploadId>/` lists parts in part-number order.
//   u/<bucket>/<uploadId>           → UploadRecord (JSON, inline in the key index)
//   p/<uploadId>/<5-digit part no>  → PartRecord (JSON, inline in the key index)
// A part's bytes are chunks under `d/<part dataId>/`, exactly like an object version's; a completed
// object's head lists those data ids, so completion never copies part data.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { checksumAlgorithms, tagsSchema } from './object-head.ts';

export const MAX_PART_NUMBER = 10_000;

const algorithmSchema = z.enum(checksumAlgorithms);

const uploadRecordSchema = z.object({
  key: z.string(),
  initiatedMs: z.number().int(),
  /** Standard headers and user metadata captured at CreateMultipartUpload, for the final object. */
  contentType: z.string(),
  contentEncoding: z.string().optional(),
  contentDisposition: z.string().optional(),
  contentLanguage: z.string().optional(),
  cacheControl: z.string().optional(),
  expires: z.string().optional(),
  meta: z.record(z.string(), z.string()),
  /** x-amz-tagging of CreateMultipartUpload, for the final object; absent = none. */
  tags: tagsSchema.optional(),
  /** x-amz-checksum-algorithm of CreateMultipartUpload; absent = none declared. */
  checksumAlgorithm: algorithmSchema.optional(),
  checksumType: z.enum(['FULL_OBJECT', 'COMPOSITE']).optional(),
  /** Access key that created the upload (shown as Initiator/Owner). */
  owner: z.string(),
  /** SSE-S3 asked at CreateMultipartUpload: every part is encrypted at rest (sse.ts). */
  sse: z.literal('AES256').optional(),
  /** x-amz-storage-class of CreateMultipartUpload, for the final object; absent = STANDARD. */
  storageClass: z
    .string()
    .regex(/^[A-Z_]+$/)
    .optional(),
});
export type UploadRecord = z.infer<typeof uploadRecordSchema>;

const partRecordSchema = z.object({
  dataId: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  /** Hex MD5 of the part, unquoted. */
  etag: z.string(),
  lastModifiedMs: z.number().int(),
  /** Base64 raw digests computed over the part, by algorithm. */
  checksums: z.partialRecord(algorithmSchema, z.string()),
  /** Algorithm the client declared on UploadPart, if any (its value is in `checksums`). */
  declared: algorithmSchema.optional(),
});
export type PartRecord = z.infer<typeof partRecordSchema>;

export const UPLOAD_PREFIX = 'u/';

export function uploadPrefix(bucket: string): string {
  assert(!bucket.includes('/'), 'bucket names never contain "/"');
  return `u/${bucket}/`;
}

export function uploadKey(bucket: string, uploadId: string): string {
  return `${uploadPrefix(bucket)}${uploadId}`;
}

export function partPrefix(uploadId: string): string {
  return `p/${uploadId}/`;
}

export function partKey(uploadId: string, partNumber: number): string {
  assert(Number.isInteger(partNumber) && partNumber >= 1 && partNumber <= MAX_PART_NUMBER, 'part number');
  return `${partPrefix(uploadId)}${String(partNumber).padStart(5, '0')}`;
}

export function partNumberOfKey(key: Buffer, uploadId: string): number {
  return Number(key.subarray(partPrefix(uploadId).length).toString('latin1'));
}

/** 12 hex digits of milliseconds (sortable until year 10889) + 20 random hex digits. */
export function newUploadId(nowMs: number): string {
  return nowMs.toString(16).padStart(12, '0') + randomBytes(10).toString('hex');
}

/** Upload ids are generated here only; anything else in a request is simply not an upload. */
export function isUploadId(value: string): boolean {
  return /^[0-9a-f]{32}$/.test(value);
}

export function encodeUpload(record: UploadRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

export function decodeUpload(bytes: Uint8Array): UploadRecord {
  return uploadRecordSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
}

export function encodePart(record: PartRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

export function decodePart(bytes: Uint8Array): PartRecord {
  return partRecordSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
}
