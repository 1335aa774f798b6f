// wrk (the C load generator) for the HTTP cases: installs it from Debian when missing, runs it
// with a Lua script that replays pre-signed requests, and parses the script's JSON summary.
// Hazard: wrk counts only socket errors and status >= 400 on its own; the Lua script counts every
// non-2xx status itself (and the first bad response), because a bench that measures errors
// measures nothing.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WRK_SCRIPT = path.join(here, 'wrk-replay.lua');

/** Load settings shared by every wrk case, so ceiling and gateway see the same client. */
export interface WrkSettings {
  threads: number;
  connections: number;
  durationSec: number;
  timeoutSec: number;
}

export interface WrkResult {
  requests: number;
  bytes: number;
  durationSec: number;
  non2xx: number;
  /** Statuses seen that were not 2xx, e.g. `{ "403": 12 }`. */
  badStatuses: Record<string, number>;
  firstBad: string;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  latencyP50Ms: number;
  latencyP99Ms: number;
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found !== '' ? found : undefined;
}

/** `wrk -v` prints its version line and exits 1. */
export function wrkVersion(wrk: string): string {
  const r = spawnSync(wrk, ['-v'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n')[0]?.trim() || 'wrk (unknown version)';
}

/**
 * Returns the wrk binary, installing it with apt-get when missing (the bench runs as root on the
 * project's machines). Undefined, with the reason printed, when it cannot be had.
 */
export function ensureWrk(log: (line: string) => void): string | undefined {
  const existing = which('wrk');
  if (existing) return existing;
  if (process.getuid?.() !== 0 || !which('apt-get')) {
    log('wrk is not installed and cannot be installed here (needs root and apt-get): wrk cases are SKIPPED.');
    log('Install it with: apt-get update && apt-get install -y wrk');
    return undefined;
  }
  log('wrk not found: running `apt-get update && apt-get install -y wrk` ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'wrk']]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 300_000 });
    if (r.status !== 0) {
      log(`\`apt-get ${args.join(' ')}\` failed (status ${r.status ?? r.signal}): wrk cases are SKIPPED.`);
      return undefined;
    }
  }
  const installed = which('wrk');
  if (!installed) log('apt-get reported success but wrk is still not on PATH: wrk cases are SKIPPED.');
  else log(`installed ${wrkVersion(installed)}`);
  return installed;
}

/**
 * Runs wrk against `baseUrl`, replaying the requests in `requestFile` (see wrk-replay.lua for the
 * format). `bodyBytes` > 0 sends that many bytes with every PUT; `expectBodyBytes` > 0 counts a
 * 2xx response of another length as bad. `checkBodies` false skips the Lua
 * response() hook (which makes wrk copy every body into Lua): for 64 MiB bodies the status check
 * then falls back to wrk's own count of status >= 400, and the bytes per request are checked by
 * the caller.
 */
export async function runWrk(
  wrk: string,
  settings: WrkSettings,
  baseUrl: string,
  requestFile: string,
  opts: { bodyBytes?: number; checkBodies?: boolean; expectBodyBytes?: number } = {},
): Promise<WrkResult> {
  const args = [
    `-t${settings.threads}`,
    `-c${settings.connections}`,
    `-d${settings.durationSec}s`,
    `--timeout`,
    `${settings.timeoutSec}s`,
    '-s',
    WRK_SCRIPT,
    baseUrl,
    '--',
    requestFile,
    String(opts.bodyBytes ?? 0),
    String(opts.expectBodyBytes ?? 0),
  ];
  const env = { ...process.env, BENCH_CHECK_RESPONSES: opts.checkBodies === false ? '0' : '1' };
  const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), (settings.durationSec + 60) * 1000);
    child.on('error', reject);
    child.on('close', (c) => {
      clearTimeout(killer);
      resolve(c);
    });
  });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (code !== 0 || line === undefined) {
    throw new Error(`wrk exited with ${code}: ${stderr.trim()} ${stdout.trim().slice(-2000)}`);
  }
  return JSON.parse(line.slice('BENCH_JSON '.length)) as WrkResult;
}

export function requestsPerSec(r: WrkResult): number {
  return r.requests / r.durationSec;
}

export function bytesPerSec(r: WrkResult): number {
  return r.bytes / r.durationSec;
}
