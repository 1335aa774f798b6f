// Walks one bucket's object heads in key-byte order, rolling keys up into common prefixes.
// Invariants:
// - Cost is O(entries yielded): after a common prefix P is yielded, the scan jumps to P + 0xFF
//   (UTF-8 never contains the byte 0xFF, so no key under P sorts after it) instead of reading P's
//   keys.
// - A common prefix that sorts at or before `startAfter` is never yielded (it was on an earlier
//   page, or precedes the requested start).
import type { EnginePort } from './engine-port.ts';
import { headPrefix } from './layout.ts';
import { decodeListedHead, type ListedHead } from './object-head.ts';

export type ListEntry =
  | { kind: 'object'; key: string; keyBytes: Buffer; head: ListedHead }
  | { kind: 'prefix'; prefix: string; prefixBytes: Buffer };

export type WalkOptions = {
  prefix: string;
  delimiter?: string;
  /** Raw key bytes (relative to the bucket) to start after; may end with 0xFF (a skipped prefix). */
  startAfter?: Buffer;
  /** Engine keys fetched per scan call. */
  batchSize?: number;
};

const SKIP_PAST = Buffer.from([0xff]);

export async function* walkListing(
  engine: EnginePort,
  bucket: string,
  opts: WalkOptions,
): AsyncGenerator<ListEntry> {
  const base = headPrefix(bucket);
  const prefixBytes = Buffer.from(opts.prefix, 'utf8');
  const scanPrefix = Buffer.concat([base, prefixBytes]);
  const delimiter = opts.delimiter ? Buffer.from(opts.delimiter, 'utf8') : undefined;
  const batchSize = opts.batchSize ?? 1000;
  let after: Buffer | undefined = opts.startAfter ? Buffer.concat([base, opts.startAfter]) : undefined;

  for (;;) {
    let seen = 0;
    let jumped = false;
    const scan = {
      prefix: scanPrefix,
      limit: batchSize,
      withValues: true,
      ...(after ? { startAfter: after } : {}),
    };
    for await (const entry of engine.keys(scan)) {
      seen++;
      after = entry.key;
      const keyBytes = entry.key.subarray(base.length);
      if (delimiter) {
        const at = keyBytes.indexOf(delimiter, prefixBytes.length);
        if (at >= 0) {
          const prefix = Buffer.from(keyBytes.subarray(0, at + delimiter.length));
          after = Buffer.concat([base, prefix, SKIP_PAST]);
          jumped = true;
          if (!opts.startAfter || Buffer.compare(prefix, opts.startAfter) > 0) {
            yield { kind: 'prefix', prefix: prefix.toString('utf8'), prefixBytes: prefix };
          }
          break;
        }
      }
      const value = entry.value ?? (await engine.get(entry.key));
      // A head deleted between the scan and the get is simply not listed.
      if (!value) continue;
      const key = Buffer.from(keyBytes);
      yield { kind: 'object', key: key.toString('utf8'), keyBytes: key, head: decodeListedHead(value) };
    }
    if (!jumped && seen < batchSize) return;
  }
}
