// Durability across kill -9: the gateway runs as a child process (the real CLI), is SIGKILLed right
// after its acknowledgements, and restarted on the same data directory. Everything acknowledged must
// read back byte-identical and list correctly; uploads in flight at the kill must leave no visible
// object (and no part).

import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChildGateway, pattern, sdkClient, startChildGateway, tempDir } from './support/gateway.ts';
import { auditDataDir } from './support/store-audit.ts';

const MiB = 1024 * 1024;
const Bucket = 'durable';

/** Starts a PUT to a presigned URL that announces `total` bytes but sends only `sent`. */
async function startStalledPut(url: string, total: number, sent: number): Promise<() => void> {
  const u = new URL(url);
  const req = request({
    host: u.hostname,
    port: u.port,
    method: 'PUT',
    path: u.pathname + u.search,
    headers: { 'content-length': String(total) },
  });
  req.on('error', () => {}); // the server is killed under it
  await new Promise<void>((resolve) => req.write(pattern(sent, 99), () => resolve()));
  return () => req.destroy();
}

async function bytesOf(s3: S3Client, Key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode ?? 0;
    throw err;
  }
}

describe('restart after SIGKILL', () => {
  let dataDir: string | undefined;
  let child: ChildGateway | undefined;

  afterAll(async () => {
    await child?.kill();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps every acknowledged object and part, and nothing that was in flight', async () => {
    dataDir = await tempDir('restart');
    child = await startChildGateway(dataDir);
    let s3 = sdkClient(child.port);
    await s3.send(new CreateBucketCommand({ Bucket }));

    const objects = new Map<string, Buffer>([
      ['a.txt', Buffer.from('small object')],
      ['dir/medium.bin', pattern(2 * MiB + 511, 2)],
      ['empty', Buffer.alloc(0)],
      ['odd key + % ?#.txt', pattern(1000, 3)],
    ]);
    const etags = new Map<string, string>();
    for (const [Key, Body] of objects) {
      const r = await s3.send(new PutObjectCommand({ Bucket, Key, Body }));
      etags.set(Key, r.ETag as string);
    }
    // A completed multipart object.
    const mpParts = [pattern(5 * MiB, 4), pattern(3000, 5)];
    const mp = await s3.send(
      new CreateMultipartUploadCommand({ Bucket, Key: 'mp.bin', Metadata: { kind: 'mp' } }),
    );
    const mpDone = [];
    for (const [i, Body] of mpParts.entries()) {
      const r = await s3.send(
        new UploadPartCommand({ Bucket, Key: 'mp.bin', UploadId: mp.UploadId, PartNumber: i + 1, Body }),
      );
      mpDone.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    const completed = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'mp.bin',
        UploadId: mp.UploadId,
        MultipartUpload: { Parts: mpDone },
      }),
    );
    objects.set('mp.bin', Buffer.concat(mpParts));
    etags.set('mp.bin', completed.ETag as string);
    // An upload left open with one acknowledged part.
    const open = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'open.bin' }));
    const openPart = pattern(5 * MiB + 7, 6);
    const openPartDone = await s3.send(
      new UploadPartCommand({
        Bucket,
        Key: 'open.bin',
        UploadId: open.UploadId,
        PartNumber: 1,
        Body: openPart,
      }),
    );

    // In flight at the kill: a PUT and a second part, each with 3 of 6 MiB sent.
    const presigner = sdkClient(child.port);
    const putUrl = await getSignedUrl(presigner, new PutObjectCommand({ Bucket, Key: 'inflight.bin' }), {
      expiresIn: 300,
    });
    const partUrl = await getSignedUrl(
      presigner,
      new UploadPartCommand({ Bucket, Key: 'open.bin', UploadId: open.UploadId, PartNumber: 2 }),
      { expiresIn: 300 },
    );
    presigner.destroy();
    const stalled = [
      await startStalledPut(putUrl, 6 * MiB, 3 * MiB),
      await startStalledPut(partUrl, 6 * MiB, 3 * MiB),
    ];

    await child.kill();
    for (const stop of stalled) stop();
    s3.destroy();

    child = await startChildGateway(dataDir);
    s3 = sdkClient(child.port);
    for (const [Key, body] of objects) {
      expect((await bytesOf(s3, Key)).equals(body), Key).toBe(true);
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      expect(head.ETag, Key).toBe(etags.get(Key));
    }
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'mp.bin' }))).Metadata).toEqual({
      kind: 'mp',
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual([...objects.keys()].sort());
    expect(await status(s3.send(new HeadObjectCommand({ Bucket, Key: 'inflight.bin' })))).toBe(404);

    // The open upload kept exactly its acknowledged part, and can still be completed.
    const parts = await s3.send(new ListPartsCommand({ Bucket, Key: 'open.bin', UploadId: open.UploadId }));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.ETag])).toEqual([[1, openPartDone.ETag]]);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'open.bin',
        UploadId: open.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: openPartDone.ETag }] },
      }),
    );
    expect((await bytesOf(s3, 'open.bin')).equals(openPart)).toBe(true);
    s3.destroy();
    await child.stop();
    child = undefined;
    // Recovery left no intent, no orphaned chunk (the in-flight bodies' chunks are gone) and no
    // reference to missing data.
    expect(await auditDataDir(dataDir)).toEqual({
      intents: [],
      unreferenced: [],
      missing: [],
      unreadable: [],
    });
  });
});
