// Crash-test child: opens the engine in durable mode and keeps many puts/deletes in flight until
// the parent SIGKILLs it.
//
// Invariant: a line `A <op>` is written only after the engine's promise for that op resolved, and
// a line `I <op> ...` is in the parent's pipe before the op is issued, so a SIGKILL can never lose
// an `I` line of an issued op nor reveal an ack that did not happen.
// Hazard: process.stdout is NOT synchronous on a pipe once the pipe is full — libuv queues the
// rest in this process's memory, and SIGKILL drops it (seen: ops issued whose `I` lines never
// arrived, which looked like the engine inventing versions). So lines go out with a blocking
// write(2) on fd 1 (libuv hands a child blocking stdio fds) and process.stdout is never touched.
//
// argv: <dir> <round> <seed> <keyCount> <inFlight> <maxValueBytes> <engineOptionsJson> [flushEveryMs]
// Lines:  S                      about to open (recovery of the previous kill starts now)
//         R                      engine open, ops start
//         I <op> p|d <key#> <v>  op issued (put of version v, or delete tagged v)
//         A <op> [0|1]           op acknowledged (delete: whether the key existed)
//         E <op> <message>       op rejected (the parent treats any rejection as a failure)
//         X <message>            the child read something that contradicts its own acks
//         FS <n> / FD <n>        explicit flush() number n started / resolved
//         T <compactions> <flushes> <drains> <degraded 0|1> <evictions>   engine stats, every 100 ms

import { writeSync } from 'node:fs';
import { BlobEngine } from '../src/index.ts';
import { keyName, makeValue, Rng } from './model.ts';

const [dir, roundArg, seedArg, keyCountArg, inFlightArg, maxValueArg, optionsJson, flushArg] =
  process.argv.slice(2);
if (
  dir === undefined ||
  roundArg === undefined ||
  seedArg === undefined ||
  keyCountArg === undefined ||
  inFlightArg === undefined ||
  maxValueArg === undefined
) {
  process.stderr.write(
    'usage: crash-child <dir> <round> <seed> <keyCount> <inFlight> <maxValueBytes> [json]\n',
  );
  process.exit(2);
}
const round = Number(roundArg);
const rng = new Rng(Number(seedArg));
const keyCount = Number(keyCountArg);
const inFlight = Number(inFlightArg);
const maxValueBytes = Number(maxValueArg);
const extraOptions = optionsJson ? (JSON.parse(optionsJson) as Record<string, unknown>) : {};
const flushEveryMs = Number(flushArg ?? 0);
// An evicting cache may drop any key at any time: a miss is then no contradiction.
const mayEvict = extraOptions.durability === 'cache' && Number(extraOptions.maxBytes ?? 0) > 0;

// Hazard: if the parent dies without killing us we must not run forever.
setTimeout(() => process.exit(3), 60_000).unref();
process.stdin.on('end', () => process.exit(4));
process.stdin.resume();

function emit(line: string): void {
  const buf = Buffer.from(`${line}\n`);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off, buf.length - off);
    } catch (err) {
      // Only if something made fd 1 non-blocking: spin until the parent drains the pipe.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

emit('S');
const engine = await BlobEngine.open(dir, { durability: 'durable', ...extraOptions });
emit('R');

// What this child knows for sure: per key, the state after its last acknowledged op, valid only
// while no other op on that key is in flight (then a read must return exactly that).
const acked = new Map<number, { v: number; deleted: boolean }>();
const pendingPerKey = new Map<number, number>();
const issuedPerKey = new Map<number, number>();
let nextOp = 0;
let versionCounter = 0;
let running = 0;

function newVersion(): number {
  versionCounter++;
  return round * 10_000_000 + versionCounter;
}

function recordAck(k: number, v: number, deleted: boolean): void {
  const prev = acked.get(k);
  if (prev === undefined || prev.v < v) acked.set(k, { v, deleted });
}

async function checkRead(k: number): Promise<void> {
  const expected = acked.get(k);
  if (expected === undefined || (pendingPerKey.get(k) ?? 0) > 0) return;
  const key = keyName(k);
  const got = await engine.get(key);
  // An op issued on k while get() was pending makes the comparison meaningless.
  if ((pendingPerKey.get(k) ?? 0) > 0 || acked.get(k) !== expected) return;
  if (expected.deleted) {
    if (got !== undefined) emit(`X get ${key} returned ${got.length} bytes after an acked delete`);
  } else {
    const want = makeValue(key, expected.v, maxValueBytes);
    if (got === undefined) {
      if (!mayEvict) emit(`X get ${key} missing, expected version ${expected.v}`);
    } else if (!want.equals(got)) emit(`X get ${key} wrong bytes for version ${expected.v}`);
  }
}

async function oneOp(): Promise<void> {
  const k = rng.int(keyCount);
  const key = keyName(k);
  const op = nextOp++;
  const v = newVersion();
  // When nothing else is in flight on this key, its state is known exactly, and so is what a
  // delete must answer.
  const known = (pendingPerKey.get(k) ?? 0) === 0 ? acked.get(k) : undefined;
  const issuedBefore = issuedPerKey.get(k) ?? 0;
  issuedPerKey.set(k, issuedBefore + 1);
  pendingPerKey.set(k, (pendingPerKey.get(k) ?? 0) + 1);
  try {
    if (rng.chance(0.15)) {
      emit(`I ${op} d ${k} ${v}`);
      const existed = await engine.delete(key);
      emit(`A ${op} ${existed ? 1 : 0}`);
      const unambiguous = known !== undefined && issuedPerKey.get(k) === issuedBefore + 1;
      if (unambiguous && existed === known.deleted && !(mayEvict && !existed)) {
        emit(
          `X delete ${key} answered ${existed} but the key was ${known.deleted ? 'deleted' : `v${known.v}`}`,
        );
      }
      recordAck(k, v, true);
    } else {
      const value = makeValue(key, v, maxValueBytes);
      emit(`I ${op} p ${k} ${v}`);
      await engine.put(key, value);
      emit(`A ${op}`);
      recordAck(k, v, false);
    }
  } catch (err) {
    emit(`E ${op} ${String((err as Error)?.message ?? err).replace(/\n/g, ' ')}`);
  } finally {
    pendingPerKey.set(k, (pendingPerKey.get(k) ?? 1) - 1);
  }
  if (rng.chance(0.2)) await checkRead(rng.int(keyCount));
}

// Writes continue while a flush() is pending: flush() is a barrier for what was written before
// it, and rotation under load is the harder case for the engine.
function pump(): void {
  while (running < inFlight) {
    running++;
    void oneOp().finally(() => {
      running--;
      // Yield a macrotask now and then so flushes and timers get their turn.
      if (nextOp % 64 === 0) setImmediate(pump);
      else pump();
    });
  }
}
pump();

setInterval(() => {
  const st = engine.stats();
  emit(`T ${st.compactions} ${st.flushes} ${st.drains} ${st.degraded ? 1 : 0} ${st.evictions}`);
}, 100);

if (flushEveryMs > 0) {
  let flushNo = 0;
  let flushing = false;
  setInterval(() => {
    if (flushing) return;
    flushing = true;
    const n = ++flushNo;
    emit(`FS ${n}`);
    engine.flush().then(
      () => {
        emit(`FD ${n}`);
        flushing = false;
      },
      (err: unknown) => emit(`E flush ${String((err as Error)?.message ?? err)}`),
    );
  }, flushEveryMs);
}
