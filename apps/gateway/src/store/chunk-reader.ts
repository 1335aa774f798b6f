// Streams the bytes [start, end) of an object's parts from its chunks, a small fixed number of chunk
// reads ahead. Invariant: yields exactly end - start bytes or throws (a missing chunk is corruption,
// never silently a short body). Every chunk comes from an engine read, which verifies the bytes it
// read from disk (payload CRC) before it resolves: nothing unverified is ever yielded.
//
// Two flavours: readChunks yields buffers the consumer owns; lendChunks yields chunks read into
// pooled buffers (chunk-pool.ts) that the consumer must release() once nothing touches the bytes
// any more (for a response: once the socket write completed).
import assert from 'node:assert/strict';
import type { BufferLease, ChunkPool } from './chunk-pool.ts';
import type { EnginePort } from './engine-port.ts';
import { CHUNK_BYTES, chunkKey } from './layout.ts';
import type { DataPart } from './object-head.ts';

export class MissingChunkError extends Error {
  override name = 'MissingChunkError';
}

/** Bytes of a chunk, valid until release() (a no-op for bytes the consumer owns outright). */
export type LentChunk = { readonly bytes: Buffer; release(): void };

const NOTHING_TO_RELEASE = (): void => {};

/**
 * Room a pooled buffer needs beyond the chunk's bytes: an engine segment read lands the whole
 * record (header + key + value) in it. Chunk keys are `d/<id>/<8 hex>`, far below this.
 */
export const CHUNK_RECORD_SLACK_BYTES = 4096;

type ChunkRef = { key: string; from: number; to: number };
type Fetch = (key: string) => Promise<LentChunk | undefined>;

function* chunkRefs(parts: DataPart[], start: number, end: number): Generator<ChunkRef> {
  let partStart = 0;
  for (const part of parts) {
    const partEnd = partStart + part.bytes;
    if (partEnd > start && partStart < end) {
      const lo = Math.max(start, partStart) - partStart;
      const hi = Math.min(end, partEnd) - partStart;
      for (let i = Math.floor(lo / CHUNK_BYTES); i * CHUNK_BYTES < hi; i++) {
        const chunkStart = i * CHUNK_BYTES;
        yield {
          key: chunkKey(part.id, i),
          from: Math.max(lo, chunkStart) - chunkStart,
          to: Math.min(hi, chunkStart + CHUNK_BYTES) - chunkStart,
        };
      }
    }
    partStart = partEnd;
    if (partStart >= end) break;
  }
}

async function* streamChunks(
  fetch: Fetch,
  parts: DataPart[],
  start: number,
  end: number,
  readAheadChunks: number,
): AsyncGenerator<LentChunk> {
  assert(start >= 0 && start <= end, 'valid byte range');
  const refs = chunkRefs(parts, start, end);
  const pending: Array<{ ref: ChunkRef; chunk: Promise<LentChunk | undefined> }> = [];
  const fill = (): void => {
    while (pending.length < readAheadChunks + 1) {
      const next = refs.next();
      if (next.done) return;
      const chunk = fetch(next.value.key);
      // Read-ahead failures surface when awaited below; keep them from being "unhandled" meanwhile.
      chunk.catch(() => {});
      pending.push({ ref: next.value, chunk });
    }
  };
  fill();
  let sent = 0;
  try {
    while (pending.length > 0) {
      const head = pending.shift() as (typeof pending)[number];
      const chunk = await head.chunk;
      if (!chunk || chunk.bytes.length < head.ref.to) {
        chunk?.release();
        throw new MissingChunkError(`chunk ${head.ref.key} is missing or short`);
      }
      fill();
      const slice = chunk.bytes.subarray(head.ref.from, head.ref.to);
      sent += slice.length;
      yield { bytes: slice, release: chunk.release };
    }
  } finally {
    // Stopped early (client gone, a failed chunk): reads still in flight are writing into their
    // buffers; each goes back only once its read settled.
    for (const p of pending.splice(0)) {
      p.chunk.then(
        (c) => c?.release(),
        () => {},
      );
    }
  }
  assert.equal(sent, end - start, 'chunk layout covers the requested range');
}

/** Chunks as buffers the consumer owns (a fresh engine read per chunk). */
export async function* readChunks(
  engine: EnginePort,
  parts: DataPart[],
  start: number,
  end: number,
  readAheadChunks = 2,
): AsyncGenerator<Buffer> {
  const fetch: Fetch = async (key) => {
    const bytes = await engine.get(key);
    return bytes && { bytes, release: NOTHING_TO_RELEASE };
  };
  for await (const chunk of streamChunks(fetch, parts, start, end, readAheadChunks)) yield chunk.bytes;
}

/** Reads one engine value into a leased buffer; the lease goes back unless the bytes are in it. */
async function readLeased(engine: EnginePort, pool: ChunkPool, key: string): Promise<LentChunk | undefined> {
  if (engine.getInto === undefined) {
    const bytes = await engine.get(key);
    return bytes && { bytes, release: NOTHING_TO_RELEASE };
  }
  const lease: BufferLease = pool.acquire();
  let bytes: Buffer | undefined;
  try {
    bytes = await engine.getInto(key, lease.buffer);
  } catch (err) {
    lease.release(); // settled: the engine writes into the buffer only while the read is pending
    throw err;
  }
  if (bytes === undefined) {
    lease.release();
    return undefined;
  }
  if (bytes.buffer !== lease.buffer.buffer) {
    lease.release(); // did not fit: the engine handed out a fresh buffer instead
    return { bytes, release: NOTHING_TO_RELEASE };
  }
  return { bytes, release: lease.release };
}

/**
 * Chunks read into buffers leased from `pool`: the consumer must call release() on each once
 * nothing reads its bytes any more (a chunk it drops without releasing is only lost to the pool).
 */
export function lendChunks(
  engine: EnginePort,
  pool: ChunkPool,
  parts: DataPart[],
  start: number,
  end: number,
  readAheadChunks = 2,
): AsyncGenerator<LentChunk> {
  return streamChunks((key) => readLeased(engine, pool, key), parts, start, end, readAheadChunks);
}
