// The CLI process: its "listening" line appears at every log level (parents find a `--port 0`
// gateway's port there), and buffered request log lines are all written out on a clean stop.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

type Running = {
  child: ChildProcess;
  port: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
};

function spawnCli(dataDir: string, level: string): Promise<Running> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', level],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not print its listening line')), 20_000);
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        const rec = JSON.parse(part) as Record<string, unknown>;
        lines.push(rec);
        if (rec.msg === 'blobcache listening' && typeof rec.url === 'string') {
          clearTimeout(timer);
          resolve({ child, port: Number(new URL(rec.url).port), lines, exited });
        }
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited early (${code})`)));
  });
}

function health(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/_blobcache/health' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('cli', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('prints its listening line at every level, as one JSON line on stdout', async () => {
    for (const level of ['warn', 'silent']) {
      const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-cli-'));
      dirs.push(dataDir);
      const gw = await spawnCli(dataDir, level);
      children.push(gw.child);
      expect(gw.port).toBeGreaterThan(0);
      expect(await health(gw.port)).toBe(200);
      gw.child.kill('SIGTERM');
      expect(await gw.exited).toBe(0);
      expect(gw.lines.map((l) => l.msg)).toEqual(['blobcache listening']);
    }
  }, 60_000);

  it('writes every buffered request line before a clean stop', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-cli-'));
    dirs.push(dataDir);
    const gw = await spawnCli(dataDir, 'info');
    children.push(gw.child);
    // A few short lines stay below the batch size, so they are still buffered at SIGTERM unless
    // the periodic flush got to them; either way none may be missing after the exit.
    for (let i = 0; i < 3; i++) expect(await health(gw.port)).toBe(200);
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    const msgs = gw.lines.map((l) => l.msg);
    expect(msgs.filter((m) => m === 'request')).toHaveLength(3);
    expect(msgs.at(-1)).toBe('blobcache stopped');
  }, 60_000);
});
