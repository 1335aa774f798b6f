import { Writable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { s3Client, startTestGateway } from '../testing/harness.ts';

describe('request log', () => {
  it('writes one JSON line per request whose requestId is the x-amz-request-id header', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const gw = await startTestGateway({}, { logger: pino({ level: 'info' }, sink) });
    const s3 = s3Client(gw);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'logged' }));
      await s3.send(new PutObjectCommand({ Bucket: 'logged', Key: 'dir/file.txt', Body: 'hello log' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'logged', Key: 'dir/file.txt' }));
      await got.Body!.transformToString();
      const missing = await s3
        .send(new GetObjectCommand({ Bucket: 'logged', Key: 'nope' }))
        .catch((e: unknown) => e);
      const health = await fetch(`${gw.url}/_blobcache/health`);
      const healthBytes = (await health.arrayBuffer()).byteLength;
      const healthId = health.headers.get('x-amz-request-id');
      const requestId = got.$metadata.requestId;
      const missingId = (missing as { $metadata: { requestId?: string } }).$metadata.requestId;
      // The line is written when the server side of the response finishes; wait for it (bounded).
      for (let i = 0; i < 100 && !lines.some((l) => l.requestId === missingId); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const requests = lines.filter((l) => l.msg === 'request');
      const get = requests.find((l) => l.requestId === requestId);
      expect(get).toMatchObject({
        method: 'GET',
        operation: 'GetObject',
        bucket: 'logged',
        key: 'dir/file.txt',
        status: 200,
        bytesOut: 9,
      });
      expect(typeof get?.durationMs).toBe('number');
      const put = requests.find((l) => l.operation === 'PutObject');
      expect(put).toMatchObject({ status: 200, bytesIn: 9, key: 'dir/file.txt' });
      expect(requests.find((l) => l.requestId === missingId)).toMatchObject({
        status: 404,
        errorCode: 'NoSuchKey',
      });
      // Responses answered whole (admin endpoints) count their body too.
      expect(healthBytes).toBeGreaterThan(0);
      expect(requests.find((l) => l.requestId === healthId)).toMatchObject({
        operation: 'Health',
        status: 200,
        bytesOut: healthBytes,
      });
      expect(new Set(requests.map((l) => l.requestId)).size).toBe(requests.length);
    } finally {
      s3.destroy();
      await gw.stop();
    }
  });
});
