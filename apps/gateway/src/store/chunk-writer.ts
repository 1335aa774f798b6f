// Streams a body into CHUNK_BYTES-sized engine values under `d/<dataId>/`.
// Invariant: memory is bounded by (maxInFlightChunks + 1) × CHUNK_BYTES per upload, whatever the
// body size, and the function resolves only after every chunk put resolved (durable).

import type { EnginePort } from './engine-port.ts';
import { CHUNK_BYTES, chunkCount, chunkKey } from './layout.ts';

export type ChunkWriteResult = { bytes: number; chunks: number };

export async function writeChunks(
  engine: EnginePort,
  dataId: string,
  body: AsyncIterable<Uint8Array>,
  opts: { maxInFlightChunks?: number; maxBytes?: number } = {},
): Promise<ChunkWriteResult> {
  const maxInFlight = opts.maxInFlightChunks ?? 4;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let index = 0;
  let total = 0;
  // A fresh buffer per chunk: the engine may keep a reference to a value it was given.
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let filled = 0;

  const flush = async (bytes: Buffer): Promise<void> => {
    const p = engine.put(chunkKey(dataId, index++), bytes).then(
      () => {
        inFlight.delete(p);
      },
      (err: unknown) => {
        inFlight.delete(p);
        failure ??= err;
      },
    );
    inFlight.add(p);
    if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
  };

  try {
    for await (const piece of body) {
      let offset = 0;
      total += piece.byteLength;
      if (opts.maxBytes !== undefined && total > opts.maxBytes) throw new BodyTooLargeError(opts.maxBytes);
      while (offset < piece.byteLength) {
        const n = Math.min(CHUNK_BYTES - filled, piece.byteLength - offset);
        chunk.set(piece.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === CHUNK_BYTES) {
          const full = chunk;
          chunk = Buffer.allocUnsafe(CHUNK_BYTES);
          filled = 0;
          await flush(full);
        }
      }
    }
    if (filled > 0) await flush(chunk.subarray(0, filled));
  } finally {
    // Never leave puts running behind the caller's back (it may delete these chunks next).
    await Promise.allSettled(inFlight);
  }
  if (failure !== undefined) throw failure;
  return { bytes: total, chunks: chunkCount(total) };
}

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`body larger than ${maxBytes} bytes`);
    this.maxBytes = maxBytes;
  }
}
