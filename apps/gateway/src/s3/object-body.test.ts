// Streamed GET bodies (objects larger than a chunk): a slow reader gets every byte (backpressure),
// and a client that goes away mid-body neither stops the gateway nor keeps the version pinned.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pattern,
  s3Client,
  startGatewayWithClient,
  startTestGateway,
  type TestGateway,
} from '../testing/harness.ts';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('streamed object bodies', () => {
  let gw: TestGateway;
  let s3: S3Client;
  const Bucket = 'streams';
  const first = pattern(5 * MiB + 123, 7);

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'big', Body: first }));
  });
  afterAll(async () => {
    s3?.destroy();
    await gw?.stop();
  });

  it('a reader that pauses between reads gets the whole body', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'big' }));
    const body = await new Promise<Buffer>((resolve, reject) => {
      httpRequest(url, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => {
          parts.push(d);
          // Stall the socket now and then so the gateway has to wait for 'drain'.
          if (parts.length % 8 === 0) {
            res.pause();
            setTimeout(() => res.resume(), 20);
          }
        });
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    expect(body.length).toBe(first.length);
    expect(sha256(body)).toBe(sha256(first));
  });

  it('a client gone mid-body leaves the gateway serving and the object replaceable', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'big' }));
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(url, (res) => {
          let got = 0;
          res.on('data', (d: Buffer) => {
            got += d.length;
            if (got >= MiB) {
              req.destroy();
              resolve();
            }
          });
        });
        req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
        req.end();
      });
    }
    // The aborted reads released their pins: after an overwrite the old version's chunks are
    // reclaimed (a pinned version would keep its 5 MiB live forever).
    const second = pattern(3 * MiB + 5, 11);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'big', Body: second }));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'big' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    expect(sha256(bytes)).toBe(sha256(second));
    let live = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 200 && live >= first.length; i++) {
      const text = await (await fetch(`${gw.url}/_blobcache/metrics`)).text();
      const m = /^blobcache_engine_live_bytes\{[^}]*engine="store"[^}]*\} (\d+)/m.exec(text);
      live = m ? Number(m[1]) : live;
      if (live >= first.length) await new Promise((r) => setTimeout(r, 50));
    }
    expect(live).toBeLessThan(first.length);
  });
});

describe('a damaged chunk on disk', () => {
  it('cuts the response where the chunk is (read ahead or not): the client never gets its bytes', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-damaged-'));
    try {
      const body = pattern(5 * MiB + 77, 3);
      randomBytes(64).copy(body, 3 * MiB + 1000); // bytes found nowhere else (the pattern repeats)
      let gw = await startTestGateway({ dataDir });
      let s3 = s3Client(gw);
      await s3.send(new CreateBucketCommand({ Bucket: 'dmg' }));
      await s3.send(new PutObjectCommand({ Bucket: 'dmg', Key: 'obj', Body: body }));
      s3.destroy();
      await gw.stop();
      // Flip one byte inside chunk 3 (bytes [3 MiB, 4 MiB)) wherever the engine stored it.
      const needle = body.subarray(3 * MiB + 1000, 3 * MiB + 1064);
      let flipped = 0;
      for (const f of await readdir(dataDir, { recursive: true })) {
        if (!f.endsWith('.seg')) continue;
        const bytes = await readFile(join(dataDir, f));
        const at = bytes.indexOf(needle);
        if (at < 0) continue;
        bytes[at + 10] = bytes[at + 10]! ^ 0x01;
        await writeFile(join(dataDir, f), bytes);
        flipped++;
      }
      expect(flipped).toBe(1);
      gw = await startTestGateway({ dataDir }); // nothing in memory: every chunk is a disk read
      s3 = s3Client(gw);
      try {
        const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'dmg', Key: 'obj' }));
        for (let attempt = 0; attempt < 2; attempt++) {
          const got = await new Promise<{ bytes: Buffer; complete: boolean }>((resolve, reject) => {
            httpRequest(url, (res) => {
              expect(res.statusCode).toBe(200);
              const parts: Buffer[] = [];
              res.on('data', (d: Buffer) => parts.push(d));
              res.on('end', () => resolve({ bytes: Buffer.concat(parts), complete: res.complete }));
              res.on('error', () => resolve({ bytes: Buffer.concat(parts), complete: false }));
              res.on('aborted', () => resolve({ bytes: Buffer.concat(parts), complete: false }));
            })
              .on('error', reject)
              .end();
          });
          expect(got.complete).toBe(false);
          expect(got.bytes.length).toBeLessThanOrEqual(3 * MiB);
          expect(got.bytes.equals(body.subarray(0, got.bytes.length))).toBe(true);
        }
      } finally {
        s3.destroy();
        await gw.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
