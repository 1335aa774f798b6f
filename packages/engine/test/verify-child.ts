// Runs verifyDataSet in its own process, for damage that could take a native library down with
// it (a corrupt LMDB file can fault inside lmdb's C code): the parent sees an exit signal instead
// of losing the test runner.
//
// argv: <dir> <engineOptionsJson> <count> <seed>   prints one JSON line (VerifyReport)

import { planDataSet, verifyDataSet } from './corruption-kit.ts';

const [dir, optionsJson, countArg, seedArg] = process.argv.slice(2);
if (dir === undefined || optionsJson === undefined || countArg === undefined || seedArg === undefined) {
  process.stderr.write('usage: verify-child <dir> <optionsJson> <count> <seed>\n');
  process.exit(2);
}
const { data } = planDataSet(Number(countArg), Number(seedArg));
const report = await verifyDataSet(dir, JSON.parse(optionsJson), data, new Set());
process.stdout.write(`${JSON.stringify(report)}\n`);
