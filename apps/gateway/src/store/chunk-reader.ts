// Streams the bytes [start, end) of an object's parts from its chunks, a small fixed number of chunk
// reads ahead. Invariant: yields exactly end - start bytes or throws (a missing chunk is corruption,
// never silently a short body).
import assert from 'node:assert/strict';
import type { EnginePort } from './engine-port.ts';
import { CHUNK_BYTES, chunkKey } from './layout.ts';
import type { DataPart } from './object-head.ts';

export class MissingChunkError extends Error {
  override name = 'MissingChunkError';
}

type ChunkRef = { key: string; from: number; to: number };

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

export async function* readChunks(
  engine: EnginePort,
  parts: DataPart[],
  start: number,
  end: number,
  readAheadChunks = 2,
): AsyncGenerator<Buffer> {
  assert(start >= 0 && start <= end, 'valid byte range');
  const refs = chunkRefs(parts, start, end);
  const pending: Array<{ ref: ChunkRef; bytes: Promise<Buffer | undefined> }> = [];
  const fill = (): void => {
    while (pending.length < readAheadChunks + 1) {
      const next = refs.next();
      if (next.done) return;
      const bytes = engine.get(next.value.key);
      // Read-ahead failures surface when awaited below; keep them from being "unhandled" meanwhile.
      bytes.catch(() => {});
      pending.push({ ref: next.value, bytes });
    }
  };
  fill();
  let sent = 0;
  while (pending.length > 0) {
    const head = pending.shift() as (typeof pending)[number];
    const bytes = await head.bytes;
    if (!bytes || bytes.length < head.ref.to) {
      throw new MissingChunkError(`chunk ${head.ref.key} is missing or short`);
    }
    fill();
    const slice = bytes.subarray(head.ref.from, head.ref.to);
    sent += slice.length;
    yield slice;
  }
  assert.equal(sent, end - start, 'chunk layout covers the requested range');
}
