// Randomised damage to the parsers: they must never throw, never allocate from unverified sizes,
// never return a damaged record or one past a cut, and (segment scans) lose no intact record.
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashKey, initKeyHash } from './keyhash.ts';
import { Memtable } from './memtable.ts';
import { decodeMeta, encodeFooter, encodeTombstoneBatch } from './meta.ts';
import { scanSegmentFile } from './segfile.ts';
import { rng, withTempDir } from './testutil.ts';

await initKeyHash();

function buildSegment(): { bytes: Buffer; ends: number[] } {
  const mt = new Memtable(4, 256 * 1024);
  const ends: number[] = [];
  for (let i = 0; i < 40; i++) {
    const key = Buffer.from(`key/${i}`);
    const h = hashKey(key);
    const e = mt.append(
      i + 1,
      key,
      h,
      h.toString('latin1'),
      i % 9 === 0 ? undefined : Buffer.alloc(50 + i * 37, i),
    );
    ends.push(e.pos + e.len);
  }
  return { bytes: Buffer.from(mt.slab.subarray(0, mt.used)), ends };
}

describe('parser fuzzing', () => {
  it('scanSegmentFile returns exactly the intact records (resync past damage), none past a cut, never throws', async () => {
    await withTempDir(async (dir) => {
      const { bytes, ends } = buildSegment();
      const starts = ends.map((_, i) => (i === 0 ? 32 : ends[i - 1]!));
      const next = rng(42);
      const path = join(dir, 'f.seg');
      for (let round = 0; round < 200; round++) {
        const damaged = Buffer.from(bytes);
        // damaged byte range [first, last)
        let first = damaged.length;
        let last = damaged.length;
        const mode = next(4);
        if (mode === 3) {
          // a key byte: covered by the header CRC, so the record goes and the scan must resync
          const r = next(ends.length);
          first = starts[r]! + 42 + next(4);
          last = first + 1;
          damaged[first] = damaged[first]! ^ (1 + next(255));
        } else if (mode === 0) {
          first = next(damaged.length);
          last = first + 1;
          damaged[first] = damaged[first]! ^ (1 + next(255));
        } else if (mode === 1) {
          first = next(damaged.length);
          last = Math.min(damaged.length, first + 1 + next(64));
          for (let i = first; i < last; i++) damaged[i] = next(256);
        }
        const cut = mode === 2 ? next(damaged.length) : damaged.length;
        await writeFile(path, damaged.subarray(0, cut));
        const fh = await open(path, 'r');
        const scan = await scanSegmentFile(fh, 1 << 20);
        await fh.close();
        if (first < 32) continue; // the file header itself: anything may be refused
        expect(scan.segId).toBe(4);
        const got = scan.entries.map((e) => e.pos);
        // every returned record is an original one, whole, before the cut
        for (const e of scan.entries) {
          const i = starts.indexOf(e.pos);
          expect(i, `record at ${e.pos} is not an original record`).toBeGreaterThanOrEqual(0);
          expect(e.pos + e.len).toBe(ends[i]);
          expect(e.key.toString()).toBe(`key/${i}`);
          expect(e.pos + e.len).toBeLessThanOrEqual(cut);
        }
        // and every record the damage and the cut did not touch is returned
        const intact = starts.filter((st, i) => ends[i]! <= cut && (ends[i]! <= first || st >= last));
        for (const st of intact) expect(got, `intact record at ${st} lost (round ${round})`).toContain(st);
        expect(scan.validEnd).toBeLessThanOrEqual(cut);
      }
    });
  });

  it('decodeMeta never throws on damaged input and keeps only intact tombstone batches', () => {
    const entries = buildSegmentEntries();
    const footer = encodeFooter(9, entries);
    const batches = [
      encodeTombstoneBatch([entries[0]!.hash]),
      encodeTombstoneBatch([entries[1]!.hash, entries[2]!.hash]),
    ];
    const whole = Buffer.concat([footer, ...batches]);
    const next = rng(7);
    for (let round = 0; round < 400; round++) {
      const d = Buffer.from(whole);
      const at = next(d.length);
      d[at] = d[at]! ^ (1 + next(255));
      const cut = next(4) === 0 ? next(d.length) : d.length;
      const m = decodeMeta(d.subarray(0, cut), 1000);
      if (at < footer.length && cut > at) {
        expect(m).toBeUndefined();
      } else if (m) {
        expect(m.footer.entries.length).toBe(entries.length);
        expect(m.dead.size).toBeLessThanOrEqual(3);
      }
    }
  });
});

function buildSegmentEntries() {
  const out = [];
  for (let i = 0; i < 12; i++) {
    const key = Buffer.from(`m/${i}`);
    out.push({
      key,
      hash: hashKey(key),
      pos: 32 + i * 100,
      len: 42 + key.length + 10,
      valueLen: 10,
      seq: i + 1,
      tombstone: false,
    });
  }
  return out;
}
