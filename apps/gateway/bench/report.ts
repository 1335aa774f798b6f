// The bench's output: one markdown table of (metric, measured, baseline, ratio, target, met) rows,
// plus a detail table with every wrk run's raw counts (requests, non-2xx, latency).
import type { WrkResult } from './wrk.ts';

export interface Row {
  metric: string;
  gateway: string;
  baseline: string;
  baselineValue: string;
  /** gateway / baseline, both measured in this run. */
  ratio: number | undefined;
  target: string;
  met: boolean | undefined;
  /** Non-2xx responses (or failed checks) seen while measuring this row's gateway number. */
  errors: number | undefined;
}

export interface Detail {
  run: string;
  result: WrkResult;
}

export function formatCount(perSec: number, unit: string): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)} M ${unit}`;
  if (perSec >= 1e4) return `${(perSec / 1e3).toFixed(1)} k ${unit}`;
  return `${perSec.toFixed(0)} ${unit}`;
}

export function formatBytesPerSec(bytesPerSec: number): string {
  const mib = bytesPerSec / 2 ** 20;
  return mib >= 1024 ? `${(mib / 1024).toFixed(2)} GiB/s` : `${mib.toFixed(0)} MiB/s`;
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

export function renderRows(rows: Row[]): string[] {
  const out = [
    '| Metric | Gateway | Baseline | Baseline value | Ratio | Target | Met | Non-2xx |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '-' : `${r.ratio.toFixed(r.ratio < 0.1 ? 3 : 2)}x`;
    const met = r.met === undefined ? '' : r.met ? 'yes' : '**NO**';
    const errors = r.errors === undefined ? '' : String(r.errors);
    out.push(
      `| ${r.metric} | ${r.gateway} | ${r.baseline} | ${r.baselineValue} | ${ratio} | ${r.target} | ${met} | ${errors} |`,
    );
  }
  return out;
}

export function renderDetails(details: Detail[]): string[] {
  const out = [
    '| wrk run | Requests | Requests/s | Transfer/s | p50 | p99 | Non-2xx | Socket errors | First non-2xx |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const { run, result: r } of details) {
    const socket =
      r.socketErrors.connect + r.socketErrors.read + r.socketErrors.write + r.socketErrors.timeout;
    const first = r.firstBad === '' ? '' : `\`${r.firstBad.replace(/[|\n\r`]/g, ' ').slice(0, 120)}\``;
    out.push(
      `| ${run} | ${r.requests} | ${formatCount(r.requests / r.durationSec, 'req/s')} | ${formatBytesPerSec(r.bytes / r.durationSec)} | ` +
        `${r.latencyP50Ms.toFixed(2)} ms | ${r.latencyP99Ms.toFixed(2)} ms | ${r.non2xx} | ${socket} | ${first} |`,
    );
  }
  return out;
}
