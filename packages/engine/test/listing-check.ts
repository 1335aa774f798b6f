// Checks that the engine's ordered key listing agrees with point reads.
//
// Invariant under test: keys() yields exactly the keys get() finds, each once, strictly ascending
// in memcmp order of the key bytes; paging with startAfter + limit and filtering with prefix give
// the same keys as the full listing; withValues gives the same bytes as get() whenever it
// includes a value.

import type { BlobEngine } from '../src/index.ts';

export interface ListingReport {
  problems: string[];
  listed: string[];
}

async function collect(
  engine: BlobEngine,
  opts: Parameters<BlobEngine['keys']>[0],
): Promise<{ key: Buffer; value?: Buffer }[]> {
  const out: { key: Buffer; value?: Buffer }[] = [];
  for await (const e of engine.keys(opts)) out.push(e);
  return out;
}

/**
 * `live` maps each key that get() returned to its bytes. Returns human-readable problems (empty
 * when the listing is consistent).
 */
export async function checkListing(
  engine: BlobEngine,
  live: Map<string, Buffer>,
  prefixes: string[],
  maxInlineValueBytes: number,
): Promise<ListingReport> {
  const problems: string[] = [];
  const all = await collect(engine, { withValues: true });
  const listed = all.map((e) => e.key.toString('utf8'));
  for (let i = 1; i < all.length; i++) {
    if (Buffer.compare(all[i - 1]!.key, all[i]!.key) >= 0) {
      problems.push(`keys() not strictly ascending at ${i}: ${listed[i - 1]} then ${listed[i]}`);
      break;
    }
  }
  const listedSet = new Set(listed);
  for (const k of live.keys()) if (!listedSet.has(k)) problems.push(`get() finds ${k} but keys() omits it`);
  for (const k of listedSet) if (!live.has(k)) problems.push(`keys() lists ${k} but get() misses it`);
  for (const e of all) {
    const k = e.key.toString('utf8');
    const want = live.get(k);
    if (want === undefined) continue;
    if (e.value !== undefined) {
      if (!want.equals(e.value)) problems.push(`keys({withValues}) bytes differ from get() for ${k}`);
    } else if (want.length <= maxInlineValueBytes) {
      problems.push(`keys({withValues}) omitted the ${want.length}-byte value of ${k}`);
    }
  }

  // Paging: startAfter + limit must walk the same sequence.
  const paged: string[] = [];
  let after: Buffer | undefined;
  for (let guard = 0; guard < 100_000; guard++) {
    const page = await collect(
      engine,
      after === undefined ? { limit: 97 } : { limit: 97, startAfter: after },
    );
    if (page.length > 97) problems.push(`limit 97 returned ${page.length} entries`);
    for (const e of page) paged.push(e.key.toString('utf8'));
    if (page.length < 97) break;
    after = page[page.length - 1]!.key;
  }
  if (paged.join('\n') !== listed.join('\n')) {
    problems.push(`paged listing (${paged.length} keys) differs from the full listing (${listed.length})`);
  }

  for (const prefix of prefixes) {
    const got = (await collect(engine, { prefix })).map((e) => e.key.toString('utf8'));
    const prefixBytes = Buffer.from(prefix, 'utf8');
    const want = listed.filter((k) => {
      const b = Buffer.from(k, 'utf8');
      return b.length >= prefixBytes.length && b.subarray(0, prefixBytes.length).equals(prefixBytes);
    });
    if (got.join('\n') !== want.join('\n')) {
      problems.push(`prefix ${JSON.stringify(prefix)}: listed ${got.length} keys, expected ${want.length}`);
    }
  }
  return { problems, listed };
}
