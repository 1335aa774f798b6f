// Bucket policies end to end: the SDK and the minio client put them, plain unsigned HTTP (what a
// browser <img> or curl sends) is let in only where a policy allows, and a Deny binds the owner too.
import fs from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  CopyObjectCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  minioClient,
  rawRequest,
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  useGatewayWithClient,
} from '../testing/harness.ts';

const Bucket = 'policies';

function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** A policy of one statement for everyone: `effect` of `action` on the bucket's objects matching `objects`. */
function rule(effect: 'Allow' | 'Deny', action: string, objects: string): string {
  return policy({
    Effect: effect,
    Principal: '*',
    Action: action,
    Resource: `arn:aws:s3:::${Bucket}/${objects}`,
  });
}

const publicRead = {
  Sid: 'PublicRead',
  Effect: 'Allow',
  Principal: '*',
  Action: ['s3:GetObject'],
  Resource: [`arn:aws:s3:::${Bucket}/public/*`],
};

describe('bucket policies', () => {
  const suite = useGatewayWithClient({ bucket: Bucket });
  const unsigned = (method: string, path: string, body?: string) =>
    rawRequest(suite.gw.port, {
      method,
      path,
      ...(body === undefined ? {} : { body, headers: { 'content-length': Buffer.byteLength(body) } }),
    });
  const setPolicy = (text: string) => suite.s3.send(new PutBucketPolicyCommand({ Bucket, Policy: text }));

  beforeAll(async () => {
    for (const Key of ['public/cat.jpg', 'private/diary.txt', 'keep/a', 'tmp/b'])
      await suite.s3.send(new PutObjectCommand({ Bucket, Key, Body: `body of ${Key}` }));
  });

  it('keeps the document as put; reads, status and delete follow it', async () => {
    const text = policy(publicRead);
    await setPolicy(text);
    expect((await suite.s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy).toBe(text);
    expect((await suite.s3.send(new GetBucketPolicyStatusCommand({ Bucket }))).PolicyStatus?.IsPublic).toBe(
      true,
    );
    await suite.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
    expect((await s3ErrorOf(suite.s3.send(new GetBucketPolicyCommand({ Bucket })))).name).toBe(
      'NoSuchBucketPolicy',
    );
  });

  it('refuses documents S3 refuses, and policy language it does not evaluate with 501', async () => {
    const malformed = await s3ErrorOf(setPolicy('{"Statement": [}'));
    expect(malformed.name).toBe('MalformedPolicy');
    expect(malformed.$metadata.httpStatusCode).toBe(400);
    const otherBucket = await s3ErrorOf(
      setPolicy(policy({ ...publicRead, Resource: 'arn:aws:s3:::elsewhere/*' })),
    );
    expect(otherBucket.name).toBe('MalformedPolicy');
    const account = await s3ErrorOf(
      setPolicy(policy({ ...publicRead, Principal: { AWS: 'arn:aws:iam::111122223333:root' } })),
    );
    expect(account.name).toBe('NotImplemented');
    expect(account.$metadata.httpStatusCode).toBe(501);
    expect((await s3ErrorOf(suite.s3.send(new GetBucketPolicyCommand({ Bucket })))).name).toBe(
      'NoSuchBucketPolicy',
    );
  });

  it('lets unsigned requests do exactly what the policy allows', async () => {
    const before = await unsigned('GET', `/${Bucket}/public/cat.jpg`);
    expect(before.status).toBe(403);
    expect(before.body.toString()).toContain('<Code>AccessDenied</Code>');

    await setPolicy(policy(publicRead));
    const cat = await unsigned('GET', `/${Bucket}/public/cat.jpg`);
    expect(cat.status).toBe(200);
    expect(cat.body.toString()).toBe('body of public/cat.jpg');
    expect((await unsigned('HEAD', `/${Bucket}/public/cat.jpg`)).status).toBe(200);
    // Outside the allowed resource or action: still refused.
    expect((await unsigned('GET', `/${Bucket}/private/diary.txt`)).status).toBe(403);
    expect((await unsigned('GET', `/${Bucket}?list-type=2`)).status).toBe(403);
    expect((await unsigned('PUT', `/${Bucket}/public/new.txt`, 'x')).status).toBe(403);
    expect((await unsigned('DELETE', `/${Bucket}/public/cat.jpg`)).status).toBe(403);
    expect((await unsigned('GET', '/')).status).toBe(403);
    // A missing object the public may read answers NoSuchKey, as S3 does with s3:GetObject.
    expect((await unsigned('GET', `/${Bucket}/public/none.jpg`)).status).toBe(404);
    await suite.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
    expect((await unsigned('GET', `/${Bucket}/public/cat.jpg`)).status).toBe(403);
  });

  it('evaluates listing conditions (the minio client policy for a readable prefix)', async () => {
    await minioClient(suite.gw).setBucketPolicy(
      Bucket,
      policy(
        {
          Effect: 'Allow',
          Principal: { AWS: ['*'] },
          Action: ['s3:ListBucket'],
          Resource: [`arn:aws:s3:::${Bucket}`],
          Condition: { StringEquals: { 's3:prefix': ['public/'] } },
        },
        publicRead,
      ),
    );
    const listed = await unsigned('GET', `/${Bucket}?list-type=2&prefix=public%2F`);
    expect(listed.status).toBe(200);
    expect(listed.body.toString()).toContain('<Key>public/cat.jpg</Key>');
    expect((await unsigned('GET', `/${Bucket}?list-type=2&prefix=private%2F`)).status).toBe(403);
    expect((await unsigned('GET', `/${Bucket}?list-type=2`)).status).toBe(403);
    await suite.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
  });

  it('lets unsigned uploads in where allowed, and refuses others before their body', async () => {
    await setPolicy(rule('Allow', 's3:PutObject', 'drop/*'));
    expect((await unsigned('PUT', `/${Bucket}/drop/note.txt`, 'dropped')).status).toBe(200);
    const got = await suite.s3.send(new GetObjectCommand({ Bucket, Key: 'drop/note.txt' }));
    expect(await got.Body?.transformToString()).toBe('dropped');

    // Expect: 100-continue outside drop/: the 403 comes instead of 100 Continue.
    const outcome = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: suite.gw.port,
          method: 'PUT',
          path: `/${Bucket}/elsewhere.txt`,
          headers: { expect: '100-continue', 'content-length': 5 },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
        },
      );
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(outcome).toEqual({ status: 403, continued: false });
    await suite.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
  });

  it('lets an unsigned browser form (POST Object without a policy) in only where the policy allows', async () => {
    const post = (key: string) => {
      const form = new FormData();
      form.append('key', key);
      form.append('file', new Blob(['from a form']), 'f.txt');
      return fetch(`http://127.0.0.1:${suite.gw.port}/${Bucket}`, { method: 'POST', body: form });
    };
    const refused = await post('drop/form.txt');
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('<Code>AccessDenied</Code>');
    await setPolicy(rule('Allow', 's3:PutObject', 'drop/*'));
    expect((await post('drop/form.txt')).status).toBe(204);
    const got = await suite.s3.send(new GetObjectCommand({ Bucket, Key: 'drop/form.txt' }));
    expect(await got.Body?.transformToString()).toBe('from a form');
    expect((await post('outside.txt')).status).toBe(403);
    await suite.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
  });

  it('binds a signed POST Object form by Deny on its key', async () => {
    await setPolicy(rule('Deny', 's3:PutObject', 'locked/*'));
    const send = async (key: string) => {
      const presigned = await createPresignedPost(suite.s3, { Bucket, Key: key });
      const form = new FormData();
      for (const [name, value] of Object.entries(presigned.fields)) form.append(name, value);
      form.append('file', new Blob(['signed form']), 'f.txt');
      return fetch(presigned.url, { method: 'POST', body: form });
    };
    expect((await send('locked/a.txt')).status).toBe(403);
    expect((await send('open/a.txt')).status).toBe(204);
    await suite.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
  });

  it('binds the owner by Deny, per key in DeleteObjects and on a copy source, but never locks the policy', async () => {
    await setPolicy(
      policy(
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${Bucket}/private/*`,
        },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:DeleteObject',
          Resource: `arn:aws:s3:::${Bucket}/keep/*`,
        },
        { Effect: 'Deny', Principal: '*', Action: 's3:*Policy', Resource: `arn:aws:s3:::${Bucket}` },
      ),
    );
    const read = await s3ErrorOf(suite.s3.send(new GetObjectCommand({ Bucket, Key: 'private/diary.txt' })));
    expect(read.name).toBe('AccessDenied');
    expect(read.$metadata.httpStatusCode).toBe(403);
    const copy = await s3ErrorOf(
      suite.s3.send(
        new CopyObjectCommand({ Bucket, Key: 'public/leak.txt', CopySource: `${Bucket}/private/diary.txt` }),
      ),
    );
    expect(copy.name).toBe('AccessDenied');

    const result = await suite.s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'keep/a' }, { Key: 'tmp/b' }] } }),
    );
    expect(result.Deleted?.map((d) => d.Key)).toEqual(['tmp/b']);
    expect(result.Errors?.map((e) => [e.Key, e.Code])).toEqual([['keep/a', 'AccessDenied']]);
    expect(
      await (await suite.s3.send(new GetObjectCommand({ Bucket, Key: 'keep/a' }))).Body?.transformToString(),
    ).toBe('body of keep/a');

    // Denied "s3:*Policy" still leaves the owner able to read and remove the policy.
    expect((await suite.s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy).toContain('Deny');
    await suite.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
    const diary = await suite.s3.send(new GetObjectCommand({ Bucket, Key: 'private/diary.txt' }));
    expect(await diary.Body?.transformToString()).toBe('body of private/diary.txt');
  });
});

describe('bucket policy durability', () => {
  it('keeps the policy across a restart', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'policy-restart-'));
    try {
      let { gw, s3 } = await startGatewayWithClient({ bucket: Bucket, config: { dataDir } });
      try {
        await s3.send(new PutObjectCommand({ Bucket, Key: 'public/cat.jpg', Body: 'meow' }));
        await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: policy(publicRead) }));
      } finally {
        await stopGatewayWithClient(gw, s3);
      }
      ({ gw, s3 } = await startGatewayWithClient({ config: { dataDir } }));
      try {
        const cat = await rawRequest(gw.port, { method: 'GET', path: `/${Bucket}/public/cat.jpg` });
        expect(cat.status).toBe(200);
        expect(cat.body.toString()).toBe('meow');
      } finally {
        await stopGatewayWithClient(gw, s3);
      }
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
