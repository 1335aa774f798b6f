import { describe, expect, it } from 'vitest';
import { SideTee } from './side-tee.ts';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of it) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

async function* pieces(list: string[], failAtEnd?: Error): AsyncGenerator<Uint8Array> {
  for (const s of list) yield Buffer.from(s);
  if (failAtEnd) throw failAtEnd;
}

describe('SideTee', () => {
  it('gives both consumers every piece, in order', async () => {
    const tee = new SideTee(pieces(['ab', 'cd', '', 'e']));
    const [main, side] = await Promise.all([collect(tee.main), collect(tee.side)]);
    expect(main.toString()).toBe('abcde');
    expect(side.toString()).toBe('abcde');
  });

  it('holds the main body back until the side took the piece (one piece between them)', async () => {
    const tee = new SideTee(pieces(['1', '2', '3']));
    const main = tee.main[Symbol.asyncIterator]();
    const side = tee.side[Symbol.asyncIterator]();
    let got: IteratorResult<Uint8Array> | undefined;
    const first = main.next().then((r) => {
      got = r;
    });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(got).toBeUndefined(); // the side has not taken '1' yet
    expect(Buffer.from((await side.next()).value).toString()).toBe('1');
    await first;
    expect(Buffer.from(got?.value ?? []).toString()).toBe('1');
  });

  it('throws a source failure to the side, so no cached copy completes from a bad body', async () => {
    const tee = new SideTee(pieces(['ok'], new Error('bad signature')));
    const side = collect(tee.side);
    await expect(collect(tee.main)).rejects.toThrow('bad signature');
    await expect(side).rejects.toThrow('bad signature');
  });

  it('fails the side when the main consumer stops early (the upstream refused)', async () => {
    const tee = new SideTee(pieces(['a', 'b', 'c']));
    const side = collect(tee.side);
    for await (const _ of tee.main) break;
    await expect(side).rejects.toThrow('not sent upstream in full');
  });

  it('lets the main body flow on alone once the side is detached', async () => {
    const tee = new SideTee(pieces(['a', 'b', 'c']));
    tee.detach();
    expect((await collect(tee.main)).toString()).toBe('abc');
    await expect(collect(tee.side)).rejects.toThrow('detached');
  });

  it('detaches the side when its consumer returns early', async () => {
    const tee = new SideTee(pieces(['a', 'b', 'c']));
    const side = (async () => {
      for await (const _ of tee.side) break;
    })();
    expect((await collect(tee.main)).toString()).toBe('abc');
    await side;
  });
});
