// Timing helpers for the benchmark. Throughput is ops and bytes over wall-clock time of the whole
// phase, including any final flush/sync the phase needs to be comparable.

export interface Measurement {
  ops: number;
  bytes: number;
  ms: number;
}

export async function timed(
  ops: number,
  bytes: number,
  fn: () => Promise<void> | void,
): Promise<Measurement> {
  const t0 = process.hrtime.bigint();
  await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ops, bytes, ms };
}

/** The faster of two measurements of the same work. */
export function faster(a: Measurement, b: Measurement): Measurement {
  return a.ms <= b.ms ? a : b;
}

export function opsPerSec(m: Measurement): number {
  return m.ops / (m.ms / 1000);
}

export function mibPerSec(m: Measurement): number {
  return m.bytes / (1024 * 1024) / (m.ms / 1000);
}

/** Runs `task(i)` for i in [0, n) with at most `depth` promises in flight. */
export async function inFlight(
  n: number,
  depth: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < n && failure === undefined) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(depth, n); w++) workers.push(worker());
  await Promise.all(workers);
  if (failure !== undefined) throw failure;
}

export function formatRate(m: Measurement): string {
  const ops = opsPerSec(m);
  const opsText =
    ops >= 1e6
      ? `${(ops / 1e6).toFixed(2)} M/s`
      : ops >= 1e3
        ? `${(ops / 1e3).toFixed(1)} k/s`
        : `${ops.toFixed(0)}/s`;
  return m.bytes > 0 ? `${opsText} (${mibPerSec(m).toFixed(0)} MiB/s)` : opsText;
}
