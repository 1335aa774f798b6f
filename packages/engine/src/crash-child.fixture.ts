// Test fixture (not part of the library): runs a list of engine operations in a child process,
// prints DONE after the last one was acknowledged, then SIGKILLs itself so nothing is closed or
// flushed — the on-disk state is exactly what a crash right after the acknowledgements leaves.
// argv: <dir> <optionsJson> <opsFile> (a JSON file); ops: ["put", key, value] | ["del", key] | ["flush"]
// | ["evict", key]: put 20 KB fillers until get(key) misses (the engine evicted it), at most 2000.
// | ["delTwice", key]: two deletes issued together; only the second is awaited before the kill.

import { readFileSync } from 'node:fs';
import { BlobEngine } from './engine.ts';

const [dir, optionsJson, opsFile] = process.argv.slice(2);
if (!dir || !optionsJson || !opsFile) process.exit(2);
const engine = await BlobEngine.open(dir, JSON.parse(optionsJson) as Record<string, unknown>);
const ops = JSON.parse(readFileSync(opsFile, 'utf8')) as [string, string?, string?][];
for (const [op, key, value] of ops) {
  if (op === 'put') await engine.put(key as string, Buffer.from(value as string));
  else if (op === 'del') await engine.delete(key as string);
  else if (op === 'flush') await engine.flush();
  else if (op === 'delTwice') {
    void engine.delete(key as string).catch(() => undefined);
    await engine.delete(key as string);
  } else if (op === 'evict') {
    let i = 0;
    while ((await engine.get(key as string)) !== undefined) {
      if (i === 2000) throw new Error(`${key} was never evicted`);
      await engine.put(`filler/${i}`, Buffer.alloc(20_000, i & 255));
      i++;
    }
  }
}
process.stdout.write('DONE\n');
process.kill(process.pid, 'SIGKILL');
