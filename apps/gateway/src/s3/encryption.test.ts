// SSE-S3 end to end through the SDK: objects asked to be encrypted are (their bytes are not in the
// data directory's files), read back byte-identical whole and by range, through every write path
// (inline, chunked, multipart, copies, part copies, bucket default), and across a restart.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import {
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  uploadMultipart,
  useGatewayWithClient,
} from '../testing/harness.ts';

const Bucket = 'secret';
const MiB = 1024 * 1024;

async function bytesOf(s3: S3Client, Key: string, Range?: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key, ...(Range ? { Range } : {}) }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Whether `needle` occurs in any file under `dir` (the engine's segments, WAL files, LMDB). */
async function onDisk(dir: string, needle: Buffer): Promise<boolean> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const bytes = await readFile(join(entry.parentPath, entry.name));
    if (bytes.includes(needle)) return true;
  }
  return false;
}

describe('SSE-S3 (x-amz-server-side-encryption: AES256)', () => {
  const suite = useGatewayWithClient({ bucket: Bucket });

  it('encrypts small (inline) and chunked objects at rest and reads them back whole and by range', async () => {
    const { s3, gw } = suite;
    const small = randomBytes(700);
    const large = randomBytes(3 * MiB + 12_345);
    const put = await s3.send(
      new PutObjectCommand({ Bucket, Key: 'small', Body: small, ServerSideEncryption: 'AES256' }),
    );
    expect(put.ServerSideEncryption).toBe('AES256');
    await s3.send(
      new PutObjectCommand({ Bucket, Key: 'large', Body: large, ServerSideEncryption: 'AES256' }),
    );
    const plain = randomBytes(700);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: plain }));

    expect((await bytesOf(s3, 'small')).equals(small)).toBe(true);
    expect((await bytesOf(s3, 'large')).equals(large)).toBe(true);
    // A range across the first chunk boundary, starting off a 16-byte block.
    expect(
      (await bytesOf(s3, 'large', `bytes=${MiB - 1000}-${MiB + 2999}`)).equals(
        large.subarray(MiB - 1000, MiB + 3000),
      ),
    ).toBe(true);
    expect((await bytesOf(s3, 'small', 'bytes=5-40')).equals(small.subarray(5, 41))).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'large' }));
    expect(head.ServerSideEncryption).toBe('AES256');
    expect(
      (await s3.send(new HeadObjectCommand({ Bucket, Key: 'plain' }))).ServerSideEncryption,
    ).toBeUndefined();

    expect(await onDisk(gw.dataDir, small.subarray(100, 164))).toBe(false);
    expect(await onDisk(gw.dataDir, large.subarray(2 * MiB, 2 * MiB + 64))).toBe(false);
    expect(await onDisk(gw.dataDir, plain.subarray(100, 164))).toBe(true); // the check can see
  });

  it('encrypts multipart parts, copies and part copies; a copy takes the destination request, not the source', async () => {
    const { s3, gw } = suite;
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB + 7), randomBytes(1234)];
    await uploadMultipart(s3, Bucket, 'multi', parts, { ServerSideEncryption: 'AES256' });
    const whole = Buffer.concat(parts);
    expect((await bytesOf(s3, 'multi')).equals(whole)).toBe(true);
    const across = `bytes=${5 * MiB - 10}-${5 * MiB + 9}`;
    expect((await bytesOf(s3, 'multi', across)).equals(whole.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(
      true,
    );
    // Ranges at random offsets (any block alignment, chunk and part boundaries), seeded.
    let seed = 12345;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 25; i++) {
      const from = next(whole.length);
      const to = Math.min(whole.length - 1, from + next(3 * MiB));
      const got = await bytesOf(s3, 'multi', `bytes=${from}-${to}`);
      expect(got.equals(whole.subarray(from, to + 1)), `bytes=${from}-${to}`).toBe(true);
    }
    expect(await onDisk(gw.dataDir, parts[1]!.subarray(MiB, MiB + 64))).toBe(false);
    const part2 = await s3.send(new GetObjectCommand({ Bucket, Key: 'multi', PartNumber: 2 }));
    expect(part2.ServerSideEncryption).toBe('AES256');
    expect(Buffer.from(await part2.Body!.transformToByteArray()).equals(parts[1]!)).toBe(true);

    const toPlain = await s3.send(
      new CopyObjectCommand({ Bucket, Key: 'multi-plain', CopySource: `${Bucket}/multi` }),
    );
    expect(toPlain.ServerSideEncryption).toBeUndefined();
    expect((await bytesOf(s3, 'multi-plain')).equals(whole)).toBe(true);
    const plainSource = randomBytes(2 * MiB);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'src-plain', Body: plainSource }));
    const toSecret = await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'copy-secret',
        CopySource: `${Bucket}/src-plain`,
        ServerSideEncryption: 'AES256',
      }),
    );
    expect(toSecret.ServerSideEncryption).toBe('AES256');
    expect((await bytesOf(s3, 'copy-secret')).equals(plainSource)).toBe(true);

    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket, Key: 'part-copied', ServerSideEncryption: 'AES256' }),
    );
    const copied = await s3.send(
      new UploadPartCopyCommand({
        Bucket,
        Key: 'part-copied',
        UploadId,
        PartNumber: 1,
        CopySource: `${Bucket}/multi`,
        CopySourceRange: `bytes=${5 * MiB - 100}-${6 * MiB}`,
      }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'part-copied',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: copied.CopyPartResult?.ETag }] },
      }),
    );
    expect((await bytesOf(s3, 'part-copied')).equals(whole.subarray(5 * MiB - 100, 6 * MiB + 1))).toBe(true);
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'part-copied' }))).ServerSideEncryption).toBe(
      'AES256',
    );
  });

  it('applies a bucket default encryption to writes without their own header', async () => {
    const { s3 } = suite;
    expect((await s3ErrorOf(s3.send(new GetBucketEncryptionCommand({ Bucket })))).name).toBe(
      'ServerSideEncryptionConfigurationNotFoundError',
    );
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      }),
    );
    const config = await s3.send(new GetBucketEncryptionCommand({ Bucket }));
    expect(
      config.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ).toBe('AES256');
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'defaulted', Body: 'x' }));
    expect(put.ServerSideEncryption).toBe('AES256');
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket }));
    expect(
      (await s3.send(new PutObjectCommand({ Bucket, Key: 'after', Body: 'x' }))).ServerSideEncryption,
    ).toBeUndefined();
  });

  it('answers 501 for KMS encryption (no key service) and 400 for an unknown method', async () => {
    const { s3 } = suite;
    const kms = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', ServerSideEncryption: 'aws:kms' })),
    );
    expect(kms.name).toBe('NotImplemented');
    expect(kms.$metadata.httpStatusCode).toBe(501);
    const bucketKms = await s3ErrorOf(
      s3.send(
        new PutBucketEncryptionCommand({
          Bucket,
          ServerSideEncryptionConfiguration: {
            Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }],
          },
        }),
      ),
    );
    expect(bucketKms.name).toBe('NotImplemented');
    const odd = await s3ErrorOf(
      s3.send(
        new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', ServerSideEncryption: 'ROT13' as 'AES256' }),
      ),
    );
    expect(odd.name).toBe('InvalidArgument');
    expect(odd.$metadata.httpStatusCode).toBe(400);
  });
});

describe('SSE-S3 across a restart', () => {
  it('reads encrypted objects back after the gateway restarts on the same data directory', async () => {
    const first = await startGatewayWithClient({ bucket: Bucket });
    const dataDir = first.gw.dataDir;
    const body = randomBytes(2 * MiB + 5);
    try {
      await first.s3.send(
        new PutObjectCommand({ Bucket, Key: 'kept', Body: body, ServerSideEncryption: 'AES256' }),
      );
    } finally {
      first.s3.destroy();
      await first.gw.close();
    }
    const again = await startGatewayWithClient({ config: { dataDir } });
    try {
      expect((await bytesOf(again.s3, 'kept')).equals(body)).toBe(true);
    } finally {
      await stopGatewayWithClient(again.gw, again.s3);
      await first.gw.stop();
    }
  });
});
