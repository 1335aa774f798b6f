// Acknowledged writes survive a restart and a kill -9 of the gateway process.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { s3Client, startTestGateway } from './testing/harness.ts';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

/** Starts the real CLI in a child process and resolves with its port once it logs "listening". */
function spawnGateway(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'info'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('gateway did not start')), 20_000);
    lines.on('line', (line) => {
      const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on('exit', (code) => reject(new Error(`gateway exited early (${code})`)));
  });
}

describe('durability', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('objects survive a graceful restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-restart-'));
    dirs.push(dataDir);
    const first = await startTestGateway({ dataDir });
    const s3a = s3Client(first);
    await s3a.send(new CreateBucketCommand({ Bucket: 'keep' }));
    await s3a.send(new PutObjectCommand({ Bucket: 'keep', Key: 'k', Body: Buffer.alloc(1_500_000, 7) }));
    s3a.destroy();
    await first.stop();
    const second = await startTestGateway({ dataDir });
    const s3b = s3Client(second);
    const got = await s3b.send(new GetObjectCommand({ Bucket: 'keep', Key: 'k' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.alloc(1_500_000, 7))).toBe(true);
    s3b.destroy();
    await second.stop();
  });

  it('every acknowledged PUT survives kill -9', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-kill-'));
    dirs.push(dataDir);
    const a = await spawnGateway(dataDir);
    children.push(a.child);
    const s3a = s3Client({ port: a.port });
    await s3a.send(new CreateBucketCommand({ Bucket: 'crash' }));
    const acked: string[] = [];
    const bodyOf = (i: number): Buffer => Buffer.alloc(i % 2 === 0 ? 100_000 + i : 4096 + i, i);
    // Even: chunked objects; odd: small ones, stored inline in their head (one engine put).
    for (let i = 0; i < 20; i++) {
      const Key = `obj-${i}`;
      await s3a.send(new PutObjectCommand({ Bucket: 'crash', Key, Body: bodyOf(i) }));
      acked.push(Key);
    }
    // A chunked object overwritten by a small one: the old chunks' reclaim may be cut by the kill.
    await s3a.send(new PutObjectCommand({ Bucket: 'crash', Key: 'obj-0', Body: bodyOf(1) }));
    // A write still streaming at the kill must leave no trace after recovery.
    const inFlight = s3a
      .send(new PutObjectCommand({ Bucket: 'crash', Key: 'partial', Body: Buffer.alloc(3_000_000, 1) }))
      .catch(() => undefined);
    a.child.kill('SIGKILL');
    await inFlight;
    s3a.destroy();
    const b = await spawnGateway(dataDir);
    children.push(b.child);
    const s3b = s3Client({ port: b.port });
    for (const [i, Key] of acked.entries()) {
      const got = await s3b.send(new GetObjectCommand({ Bucket: 'crash', Key }));
      const want = bodyOf(i === 0 ? 1 : i);
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(want)).toBe(true);
    }
    const list = await s3b.send(new ListObjectsV2Command({ Bucket: 'crash' }));
    expect(list.Contents?.filter((c) => c.Key !== 'partial').length).toBe(acked.length);
    s3b.destroy();
    b.child.kill('SIGTERM');
  }, 60_000);
});
