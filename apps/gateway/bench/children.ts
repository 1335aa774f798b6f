// Servers under test run in CHILD processes, so the load generator and the bench's own work never
// share their event loop. Each child prints one line that tells its port; everything else it
// writes is drained and dropped (the gateway's request log included: it is part of its cost).
// Invariant: every child started here is stopped (SIGTERM, then SIGKILL after a grace period) by
// the caller's `finally`, so a failed case leaves no server behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const gatewayCli = path.join(here, '..', 'src', 'cli.ts');
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 15_000;

export interface RunningChild {
  name: string;
  pid: number;
  url: string;
  /** Last lines of stderr, for error messages. */
  stderrTail(): string;
  stop(): Promise<void>;
}

function startChild(
  name: string,
  args: string[],
  readyUrl: (line: string) => string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningChild> {
  const proc: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child = (url: string): RunningChild => ({
    name,
    pid: proc.pid!,
    url,
    stderrTail: () => stderr.trim(),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killer);
    },
  });
  return new Promise<RunningChild>((resolve, reject) => {
    let buffered = '';
    let ready = false;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not report its port within ${STARTUP_TIMEOUT_MS} ms: ${stderr}`));
    }, STARTUP_TIMEOUT_MS);
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (ready) return; // drained and dropped
      buffered += d;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const url = readyUrl(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (url !== undefined) {
          ready = true;
          buffered = '';
          clearTimeout(timer);
          resolve(child(url));
          return;
        }
        nl = buffered.indexOf('\n');
      }
    });
    proc.once('exit', (code, signal) => {
      if (ready) return;
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
}

function jsonLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The gateway through its CLI: `serve --port 0 --data-dir <dir>`, extra flags appended. */
export function startGateway(
  dataDir: string,
  opts: { nodeArgs?: string[]; flags?: string[] } = {},
): Promise<RunningChild> {
  const args = [
    ...(opts.nodeArgs ?? []),
    gatewayCli,
    'serve',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    ...(opts.flags ?? []),
  ];
  return startChild('gateway', args, (line) => {
    const rec = jsonLine(line);
    return rec?.msg === 'blobcache listening' && typeof rec.url === 'string' ? rec.url : undefined;
  });
}

const portLine = (line: string): string | undefined => {
  const rec = jsonLine(line);
  return typeof rec?.port === 'number' ? `http://127.0.0.1:${rec.port}` : undefined;
};

/**
 * The ceiling: node:http answering GET with one preallocated buffer of `bodyBytes` (`node`), or the
 * same through Hono + @hono/node-server (`hono`, the gateway's framework).
 */
export function startCeiling(bodyBytes: number, mode: 'node' | 'hono' = 'node'): Promise<RunningChild> {
  return startChild('ceiling', [path.join(here, 'ceiling-server.ts'), String(bodyBytes), mode], portLine);
}

/** s3rver 3.7.1 (Koa + files) with `buckets` configured, data in `dir`. */
export function startS3rver(dir: string, buckets: string[]): Promise<RunningChild> {
  return startChild(
    's3rver',
    ['--openssl-legacy-provider', path.join(here, 's3rver-server.ts'), dir, ...buckets],
    portLine,
  );
}

export interface ProcMemory {
  rssBytes: number;
  peakRssBytes: number;
}

/** VmRSS and VmHWM (peak resident set since the process started) from /proc/<pid>/status. */
export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}
