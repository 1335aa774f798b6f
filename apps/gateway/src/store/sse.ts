// SSE-S3: object data encrypted at rest with AES-256 under keys the gateway manages, for objects
// written with `x-amz-server-side-encryption: AES256` or into a bucket whose default encryption
// asks for it. Invariants:
// - Every piece of data (a PUT's data, a multipart part) has its own key, derived from the master
//   key and the data's id (HMAC-SHA256), and data ids are never reused, so an AES-CTR keystream
//   never encrypts two different plaintexts: counter block n covers data bytes [16n, 16n + 16).
// - The master key is 32 random bytes in `<dataDir>/sse-s3.key` (mode 0600), written once and
//   made durable before first use; a store whose key file is missing or damaged refuses to open
//   rather than serve undecryptable or wrongly decrypted data. Hazard: whoever can read the data
//   directory can read that key too; this protects copies of segment files, not the directory.
// - Integrity stays the engine's job (every chunk is CRC-checked before it is decrypted), and the
//   ETag and checksums are of the plaintext, as on S3.
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@blobcache/engine';

export const SSE_KEY_FILE = 'sse-s3.key';
const MASTER_KEY_BYTES = 32;
const AES_BLOCK_BYTES = 16;
const KEY_LABEL = 'blobcache sse-s3 v1\0';

export class SseKeyError extends Error {
  override name = 'SseKeyError';
}

export class SseKeys {
  readonly #master: Buffer;

  private constructor(master: Buffer) {
    this.#master = master;
  }

  /** Loads `<dataDir>/sse-s3.key`, creating it (durably) when the directory has none yet. */
  static async open(dataDir: string): Promise<SseKeys> {
    const path = join(dataDir, SSE_KEY_FILE);
    let master: Buffer;
    try {
      master = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      master = await createKeyFile(path);
    }
    if (master.length !== MASTER_KEY_BYTES)
      throw new SseKeyError(`${path} holds ${master.length} bytes, not a ${MASTER_KEY_BYTES}-byte key`);
    return new SseKeys(master);
  }

  /** The data key of one piece of data. */
  #keyFor(dataId: string): Buffer {
    return createHmac('sha256', this.#master).update(KEY_LABEL).update(dataId, 'utf8').digest();
  }

  /** An AES-256-CTR stream positioned at byte `offset` of the data `dataId` (both directions). */
  #streamAt(dataId: string, offset: number) {
    const iv = Buffer.alloc(AES_BLOCK_BYTES);
    // Block counters stay below 2^53 / 16: the low 8 bytes hold them, the high 8 stay zero.
    iv.writeBigUInt64BE(BigInt(Math.floor(offset / AES_BLOCK_BYTES)), 8);
    const stream = createCipheriv('aes-256-ctr', this.#keyFor(dataId), iv);
    const skip = offset % AES_BLOCK_BYTES;
    if (skip > 0) stream.update(Buffer.alloc(skip));
    return stream;
  }

  /** Encrypts a whole data stream, from byte 0. */
  async *encrypt(dataId: string, body: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const stream = this.#streamAt(dataId, 0);
    for await (const piece of body) if (piece.byteLength > 0) yield stream.update(piece);
  }

  /** `bytes` found at byte `offset` of the data `dataId`, decrypted (or encrypted: CTR is symmetric). */
  transformAt(dataId: string, offset: number, bytes: Uint8Array): Buffer {
    return this.#streamAt(dataId, offset).update(bytes);
  }
}

async function createKeyFile(path: string): Promise<Buffer> {
  const key = randomBytes(MASTER_KEY_BYTES);
  await writeFileAtomic(path, dirname(path), key, 0o600);
  return key;
}
