// Write intents: the crash-recovery record of a write or delete in progress.
// `g/<versionId>` is put before any chunk of a new version is written, rewritten (with the version
// it replaces) just before the head put, and deleted once everything it makes dead is reclaimed.
// Recovery rule (see recovery.ts): if the head of the key is this version, the replaced versions'
// data is dead; otherwise this version's own data is dead (never committed, or committed and since
// replaced; in the latter case the replacing version's intent lists what this one replaced).
import { z } from 'zod';

const dataRefSchema = z.object({
  versionId: z.string(),
  dataIds: z.array(z.string()),
  partsRef: z.boolean().optional(),
});
export type DataRef = z.infer<typeof dataRefSchema>;

const intentSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  /** Data ids written by this version. */
  dataIds: z.array(z.string()),
  /** A delete: committed once the head no longer points at `replaces[0]`. */
  deletes: z.boolean().optional(),
  replaces: z.array(dataRefSchema),
  /**
   * Multipart work (store/multipart-recovery.ts decides what is dead): a part write (`part`), the
   * cleanup after CompleteMultipartUpload (`complete`, with the completed object's versionId), or
   * an abort (`abort`).
   */
  upload: z
    .object({
      uploadId: z.string(),
      op: z.enum(['part', 'complete', 'abort']),
      partNumber: z.number().int().optional(),
      versionId: z.string().optional(),
    })
    .optional(),
});
export type Intent = z.infer<typeof intentSchema>;

export function encodeIntent(intent: Intent): Buffer {
  return Buffer.from(JSON.stringify(intent), 'utf8');
}

export function decodeIntent(bytes: Uint8Array): Intent {
  return intentSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
}
