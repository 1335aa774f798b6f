// Payload CRC checks of large values read into shared memory, run on a worker thread: crc32 costs
// the main thread ~0.2-0.3 ms per MiB, as much as everything else a streamed large read does there.
//
// Invariant: the answer is always crc32 of exactly the bytes the caller will use. The worker reads
// the caller's SharedArrayBuffer in place (nothing is copied or transferred), so the caller must not
// write those bytes until the promise settles (the engine's read path holds them: the read landed
// there and nothing else has the buffer yet). Any worker failure falls back to computing the CRC
// on the calling thread: a broken worker costs speed, never a check.
//
// Hazard: a SharedArrayBuffer posted to the worker stays alive until the worker's next GC, so only
// memory that is reused (a caller's fixed buffer pool) should come here, never a fresh allocation
// per read (that is how a slab prefault worker once pinned a gigabyte: commit 24f8c95). One worker
// per process, started on first use and unref'ed (it never keeps the process alive).

import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';

/** Values at least this large, in shared memory, are checked off the main thread. */
export const OFFTHREAD_CRC_MIN_BYTES = 256 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
parentPort.on('message', (m) => {
  parentPort.postMessage({ id: m.id, crc: crc32(new Uint8Array(m.sab, m.offset, m.length)) >>> 0 });
});
`;

type Waiter = { resolve: (crc: number) => void; reject: (err: Error) => void };

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, Waiter>();

function failAll(err: Error): void {
  worker = undefined;
  for (const w of waiting.values()) w.reject(err);
  waiting.clear();
}

function started(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.unref();
  w.on('message', (m: { id: number; crc: number }) => {
    const waiter = waiting.get(m.id);
    if (!waiter) return;
    waiting.delete(m.id);
    if (waiting.size === 0) w.unref();
    waiter.resolve(m.crc);
  });
  w.on('error', (err) => failAll(err));
  w.on('exit', (code) => {
    if (worker === w) failAll(new Error(`crc worker exited (code ${code})`));
  });
  worker = w;
  return w;
}

/** Whether crc32Of(bytes) would run off the main thread. */
export function offloadable(bytes: Uint8Array): boolean {
  return bytes.length >= OFFTHREAD_CRC_MIN_BYTES && bytes.buffer instanceof SharedArrayBuffer;
}

/** crc32 of `bytes` (unsigned), computed off the main thread when offloadable(bytes). */
export async function crc32Of(bytes: Uint8Array): Promise<number> {
  if (!offloadable(bytes)) return crc32(bytes) >>> 0;
  try {
    const w = started();
    const id = nextId++;
    const crc = new Promise<number>((resolve, reject) => waiting.set(id, { resolve, reject }));
    // Referenced while an answer is due, so a caller awaiting it keeps the process running.
    w.ref();
    w.postMessage({ id, sab: bytes.buffer, offset: bytes.byteOffset, length: bytes.length });
    return await crc;
  } catch {
    return crc32(bytes) >>> 0; // the worker failed: check here instead
  }
}
