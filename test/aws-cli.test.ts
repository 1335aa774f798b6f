// aws-cli v1 (botocore) against a real gateway: the high-level `aws s3` commands, `s3api` calls,
// multipart through s3transfer, and presigned URLs (SigV2, botocore's default, and s3v4) fetched
// with curl.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '@blobcache/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsCli, awsCli, md5File, multipartEtagOfFile, sdkClient, tempDir } from './support/gateway.ts';

const MiB = 1024 * 1024;

function curl(url: string, out: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-o', out, '-w', '%{http_code}', url], (err, stdout) => {
      if (err) reject(err);
      else resolve(Number(stdout));
    });
  });
}

/**
 * A Python that imports botocore: aws-cli v1 is a botocore program, so its interpreter has it (a
 * pyenv shim usually comes first on PATH; a system python3 may not have botocore).
 */
async function botocorePython(): Promise<string> {
  const candidates = [
    'python3',
    join(homedir(), '.pyenv', 'shims', 'python3'),
    '/usr/local/bin/python3',
    'python',
  ];
  for (const python of candidates) {
    const ok = await new Promise<boolean>((resolve) =>
      execFile(python, ['-c', 'import botocore'], (err) => resolve(err === null)),
    );
    if (ok) return python;
  }
  throw new Error(`no Python with botocore (aws-cli v1's library) among ${candidates.join(', ')}`);
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; left -= 4 * MiB) {
    const piece = randomBytes(Math.min(4 * MiB, left));
    if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

async function filesUnder(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p, base)));
    else out.push(p.slice(base.length + 1));
  }
  return out.sort();
}

// Each test uses its own bucket, so they run concurrently: aws-cli's start-up (~1-2 s of Python per
// call on this machine) dominates, not the gateway.
describe.concurrent('aws-cli against the gateway', () => {
  let gw: TestServer;
  let aws: AwsCli;
  let work: string;

  beforeAll(async () => {
    gw = await startTestServer();
    aws = await awsCli(gw.port);
    work = await tempDir('cli-work');
  });
  afterAll(async () => {
    await aws?.dispose();
    await gw?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('mb, cp up and down, ls (flat and recursive), rm --recursive, rb', async () => {
    await aws.run(['s3', 'mb', 's3://cli-basic']);
    const file = join(work, 'hello.txt');
    await writeFile(file, 'hello from aws-cli\n');
    await aws.run(['s3', 'cp', file, 's3://cli-basic/docs/hello.txt']);
    await aws.run(['s3', 'cp', file, 's3://cli-basic/top.txt']);
    // Bucket to bucket: a CopyObject.
    await aws.run(['s3', 'cp', 's3://cli-basic/docs/hello.txt', 's3://cli-basic/docs/copy.txt']);
    const down = join(work, 'hello-down.txt');
    await aws.run(['s3', 'cp', 's3://cli-basic/docs/copy.txt', down]);
    expect(await readFile(down, 'utf8')).toBe('hello from aws-cli\n');

    const flat = await aws.run(['s3', 'ls', 's3://cli-basic/']);
    expect(flat).toMatch(/^\s+PRE docs\/$/m);
    expect(flat).toMatch(/ 19 top\.txt$/m);
    const recursive = await aws.run(['s3', 'ls', '--recursive', 's3://cli-basic/']);
    expect(
      recursive
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).pop()),
    ).toEqual(['docs/copy.txt', 'docs/hello.txt', 'top.txt']);

    const removed = await aws.run(['s3', 'rm', '--recursive', 's3://cli-basic/']);
    expect(removed).toContain('delete: s3://cli-basic/docs/hello.txt');
    expect((await aws.run(['s3', 'ls', '--recursive', 's3://cli-basic/'])).trim()).toBe('');
    await aws.run(['s3', 'rb', 's3://cli-basic']);
    const s3 = sdkClient(gw.port);
    const buckets = await s3.send(new ListBucketsCommand({}));
    s3.destroy();
    expect(buckets.Buckets?.map((b) => b.Name)).not.toContain('cli-basic');
  });

  it('sync up and down; a second sync transfers nothing', async () => {
    await aws.run(['s3', 'mb', 's3://cli-sync']);
    const src = join(work, 'sync-src');
    await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
    await writeFile(join(src, 'a.txt'), 'a');
    await writeFile(join(src, 'with space.txt'), 'space');
    await writeFile(join(src, 'nested', 'b+c.bin'), randomBytes(70_000));
    await writeFile(join(src, 'nested', 'deeper', 'd%e.txt'), 'percent');
    const up = await aws.run(['s3', 'sync', src, 's3://cli-sync/tree']);
    expect(up.match(/^upload: /gm)).toHaveLength(4);
    expect(await aws.run(['s3', 'sync', src, 's3://cli-sync/tree'])).toBe('');

    const dst = join(work, 'sync-dst');
    const down = await aws.run(['s3', 'sync', 's3://cli-sync/tree', dst]);
    expect(down.match(/^download: /gm)).toHaveLength(4);
    expect(await filesUnder(dst)).toEqual(await filesUnder(src));
    for (const f of await filesUnder(src)) {
      expect((await readFile(join(dst, f))).equals(await readFile(join(src, f)))).toBe(true);
    }
    expect(await aws.run(['s3', 'sync', 's3://cli-sync/tree', dst])).toBe('');
  });

  it('a 100 MiB file goes up in parts (-N ETag), is copied server-side part by part, and comes back byte-identical', async () => {
    await aws.run(['s3', 'mb', 's3://cli-big']);
    const big = join(work, 'big.bin');
    await writeRandomFile(big, 100 * MiB);
    await aws.run(['s3', 'cp', big, 's3://cli-big/big.bin']);
    const head = JSON.parse(
      await aws.run(['s3api', 'head-object', '--bucket', 'cli-big', '--key', 'big.bin']),
    );
    expect(head.ContentLength).toBe(100 * MiB);
    // s3transfer's defaults: 8 MiB threshold and part size.
    expect(head.ETag).toBe(await multipartEtagOfFile(big, 8 * MiB));
    // A server-side copy of a multipart-sized object: s3transfer uses UploadPartCopy per 8 MiB.
    await aws.run(['s3', 'cp', 's3://cli-big/big.bin', 's3://cli-big/copy.bin']);
    const copyHead = JSON.parse(
      await aws.run(['s3api', 'head-object', '--bucket', 'cli-big', '--key', 'copy.bin']),
    );
    expect(copyHead.ETag).toBe(head.ETag);
    const back = join(work, 'big-back.bin');
    await aws.run(['s3', 'cp', 's3://cli-big/copy.bin', back]);
    expect((await stat(back)).size).toBe(100 * MiB);
    expect(await md5File(back)).toBe(await md5File(big));
    await rm(big);
    await rm(back);
  });

  it('s3api: put-object with metadata, head-object, list-objects-v2 with awkward keys', async () => {
    await aws.run(['s3api', 'create-bucket', '--bucket', 'cli-api']);
    const body = join(work, 'body.txt');
    await writeFile(body, 'metadata body');
    const put = JSON.parse(
      await aws.run([
        's3api',
        'put-object',
        '--bucket',
        'cli-api',
        '--key',
        'meta.txt',
        '--body',
        body,
        '--content-type',
        'text/plain',
        '--metadata',
        'owner=alice,Project=Blob',
      ]),
    );
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    const head = JSON.parse(
      await aws.run(['s3api', 'head-object', '--bucket', 'cli-api', '--key', 'meta.txt']),
    );
    expect(head.Metadata).toEqual({ owner: 'alice', project: 'Blob' });
    expect(head.ContentType).toBe('text/plain');
    expect(head.ETag).toBe(put.ETag);

    const keys = ['a+b.txt', '100%.txt', 'with space/x y.txt', 'plain.txt'];
    const tree = join(work, 'awkward');
    for (const key of keys) {
      await mkdir(dirname(join(tree, key)), { recursive: true });
      await writeFile(join(tree, key), key);
    }
    await aws.run(['s3', 'cp', '--recursive', tree, 's3://cli-api/']);
    // botocore adds encoding-type=url on its own and decodes the answer: keys come back exact.
    const listed = JSON.parse(await aws.run(['s3api', 'list-objects-v2', '--bucket', 'cli-api']));
    expect(listed.Contents.map((c: { Key: string }) => c.Key).sort()).toEqual([...keys, 'meta.txt'].sort());
    const delimited = JSON.parse(
      await aws.run([
        's3api',
        'list-objects-v2',
        '--bucket',
        'cli-api',
        '--delimiter',
        '/',
        '--prefix',
        'with',
      ]),
    );
    expect(delimited.CommonPrefixes).toEqual([{ Prefix: 'with space/' }]);
    // Asked for explicitly, the encoding is left to the caller: the raw, encoded values show.
    const encoded = JSON.parse(
      await aws.run(['s3api', 'list-objects-v2', '--bucket', 'cli-api', '--encoding-type', 'url']),
    );
    const raw = encoded.Contents.map((c: { Key: string }) => c.Key);
    expect(raw).toContain('a%2Bb.txt');
    expect(raw).toContain('100%25.txt');
    expect(raw).toContain('with+space/x+y.txt');
  });

  it('s3api: object tagging, ACLs, object attributes and bucket settings as botocore parses them', async () => {
    await aws.run(['s3api', 'create-bucket', '--bucket', 'cli-more']);
    const body = join(work, 'tagged.txt');
    await writeFile(body, 'tagged body');
    await aws.run([
      's3api',
      'put-object',
      '--bucket',
      'cli-more',
      '--key',
      't.txt',
      '--body',
      body,
      '--tagging',
      'team=blue&stage=dev',
    ]);
    const tags = JSON.parse(
      await aws.run(['s3api', 'get-object-tagging', '--bucket', 'cli-more', '--key', 't.txt']),
    );
    expect(tags.TagSet).toEqual([
      { Key: 'team', Value: 'blue' },
      { Key: 'stage', Value: 'dev' },
    ]);
    await aws.run([
      's3api',
      'put-object-tagging',
      '--bucket',
      'cli-more',
      '--key',
      't.txt',
      '--tagging',
      'TagSet=[{Key=state,Value=done}]',
    ]);
    const replaced = JSON.parse(
      await aws.run(['s3api', 'get-object-tagging', '--bucket', 'cli-more', '--key', 't.txt']),
    );
    expect(replaced.TagSet).toEqual([{ Key: 'state', Value: 'done' }]);

    const acl = JSON.parse(
      await aws.run(['s3api', 'get-object-acl', '--bucket', 'cli-more', '--key', 't.txt']),
    );
    expect(acl.Grants).toEqual([
      { Grantee: { ...acl.Owner, Type: 'CanonicalUser' }, Permission: 'FULL_CONTROL' },
    ]);
    await aws.run(['s3api', 'put-bucket-acl', '--bucket', 'cli-more', '--acl', 'private']);

    const attributes = JSON.parse(
      await aws.run([
        's3api',
        'get-object-attributes',
        '--bucket',
        'cli-more',
        '--key',
        't.txt',
        '--object-attributes',
        'ETag',
        'ObjectSize',
        'StorageClass',
      ]),
    );
    expect(attributes).toMatchObject({ ObjectSize: 11, StorageClass: 'STANDARD' });
    expect(attributes.ETag).toMatch(/^[0-9a-f]{32}$/);

    const ownership = JSON.parse(
      await aws.run(['s3api', 'get-bucket-ownership-controls', '--bucket', 'cli-more']),
    );
    expect(ownership.OwnershipControls.Rules).toEqual([{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    await expect(aws.run(['s3api', 'get-bucket-policy', '--bucket', 'cli-more'])).rejects.toThrow(
      /NoSuchBucketPolicy/,
    );
  });

  it('s3api put-bucket-policy makes a bucket public to curl (the README example), delete-bucket-policy closes it', async () => {
    await aws.run(['s3api', 'create-bucket', '--bucket', 'cli-public']);
    const body = join(work, 'cat.jpg');
    await writeFile(body, 'not really a cat');
    await aws.run(['s3', 'cp', body, 's3://cli-public/cat.jpg']);
    const url = `http://127.0.0.1:${gw.port}/cli-public/cat.jpg`;
    const out = join(work, 'cat-fetched.jpg');
    expect(await curl(url, out)).toBe(403);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::cli-public/*' },
      ],
    });
    await aws.run(['s3api', 'put-bucket-policy', '--bucket', 'cli-public', '--policy', policy]);
    expect(await curl(url, out)).toBe(200);
    expect(await readFile(out, 'utf8')).toBe('not really a cat');
    const status = JSON.parse(await aws.run(['s3api', 'get-bucket-policy-status', '--bucket', 'cli-public']));
    expect(status.PolicyStatus.IsPublic).toBe(true);
    const stored = JSON.parse(await aws.run(['s3api', 'get-bucket-policy', '--bucket', 'cli-public']));
    expect(JSON.parse(stored.Policy)).toEqual(JSON.parse(policy));
    await aws.run(['s3api', 'delete-bucket-policy', '--bucket', 'cli-public']);
    expect(await curl(url, out)).toBe(403);
  });

  it('s3api bucket settings Terraform modules put: public access block, CORS, ownership controls', async () => {
    await aws.run(['s3api', 'create-bucket', '--bucket', 'cli-settings']);
    const bucket = ['--bucket', 'cli-settings'];
    await aws.run([
      's3api',
      'put-public-access-block',
      ...bucket,
      '--public-access-block-configuration',
      'BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true',
    ]);
    const block = JSON.parse(await aws.run(['s3api', 'get-public-access-block', ...bucket]));
    expect(block.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    const rules = [
      { AllowedOrigins: ['https://app.test'], AllowedMethods: ['GET', 'PUT'], MaxAgeSeconds: 60 },
    ];
    await aws.run([
      's3api',
      'put-bucket-cors',
      ...bucket,
      '--cors-configuration',
      JSON.stringify({ CORSRules: rules }),
    ]);
    expect(JSON.parse(await aws.run(['s3api', 'get-bucket-cors', ...bucket])).CORSRules).toEqual(rules);
    await aws.run([
      's3api',
      'put-bucket-ownership-controls',
      ...bucket,
      '--ownership-controls',
      'Rules=[{ObjectOwnership=BucketOwnerEnforced}]',
    ]);
    const publicPolicy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::cli-settings/*' },
      ],
    });
    await expect(
      aws.run(['s3api', 'put-bucket-policy', ...bucket, '--policy', publicPolicy]),
    ).rejects.toThrow(/AccessDenied/);
    await aws.run(['s3api', 'delete-bucket-cors', ...bucket]);
    await aws.run(['s3api', 'delete-public-access-block', ...bucket]);
    await aws.run(['s3api', 'put-bucket-policy', ...bucket, '--policy', publicPolicy]);
  });

  it('cp --sse AES256 (multipart) and --storage-class, bucket encryption, and a lifecycle rule that expires at once', async () => {
    await aws.run(['s3', 'mb', 's3://cli-sse']);
    const file = join(work, 'sse.bin');
    await writeRandomFile(file, 10 * MiB); // over aws-cli's 8 MiB multipart threshold
    await aws.run(['s3', 'cp', file, 's3://cli-sse/secret.bin', '--sse', 'AES256']);
    const head = JSON.parse(
      await aws.run(['s3api', 'head-object', '--bucket', 'cli-sse', '--key', 'secret.bin']),
    );
    expect(head.ServerSideEncryption).toBe('AES256');
    const back = join(work, 'sse-back.bin');
    await aws.run(['s3', 'cp', 's3://cli-sse/secret.bin', back]);
    expect(await md5File(back)).toBe(await md5File(file));

    await aws.run(['s3', 'cp', file, 's3://cli-sse/tmp/ia.bin', '--storage-class', 'STANDARD_IA']);
    const ia = JSON.parse(
      await aws.run(['s3api', 'head-object', '--bucket', 'cli-sse', '--key', 'tmp/ia.bin']),
    );
    expect(ia.StorageClass).toBe('STANDARD_IA');

    await aws.run([
      's3api',
      'put-bucket-encryption',
      '--bucket',
      'cli-sse',
      '--server-side-encryption-configuration',
      JSON.stringify({ Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] }),
    ]);
    const note = join(work, 'note.txt');
    await writeFile(note, 'defaulted');
    await aws.run(['s3', 'cp', note, 's3://cli-sse/note.txt']);
    const noted = JSON.parse(
      await aws.run(['s3api', 'head-object', '--bucket', 'cli-sse', '--key', 'note.txt']),
    );
    expect(noted.ServerSideEncryption).toBe('AES256');

    await aws.run([
      's3api',
      'put-bucket-lifecycle-configuration',
      '--bucket',
      'cli-sse',
      '--lifecycle-configuration',
      JSON.stringify({
        Rules: [
          {
            ID: 'tmp',
            Status: 'Enabled',
            Filter: { Prefix: 'tmp/' },
            Expiration: { Date: '2020-01-01T00:00:00Z' },
          },
        ],
      }),
    ]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const listed = JSON.parse(
        (await aws.run(['s3api', 'list-objects-v2', '--bucket', 'cli-sse', '--prefix', 'tmp/'])) || '{}',
      );
      if ((listed.KeyCount ?? 0) === 0) break;
      if (Date.now() > deadline) throw new Error('tmp/ia.bin was not expired');
      await new Promise((r) => setTimeout(r, 100));
    }
    const rules = JSON.parse(
      await aws.run(['s3api', 'get-bucket-lifecycle-configuration', '--bucket', 'cli-sse']),
    );
    expect(rules.Rules[0].ID).toBe('tmp');
  });

  it('s3api multipart: create-multipart-upload, upload-part, list-parts, complete-multipart-upload', async () => {
    await aws.run(['s3api', 'create-bucket', '--bucket', 'cli-mpu']);
    const part1 = join(work, 'part1');
    const part2 = join(work, 'part2');
    await writeFile(part1, randomBytes(5 * MiB));
    await writeFile(part2, randomBytes(1000));
    const created = JSON.parse(
      await aws.run(['s3api', 'create-multipart-upload', '--bucket', 'cli-mpu', '--key', 'assembled.bin']),
    );
    const UploadId = created.UploadId as string;
    const parts = [];
    for (const [i, path] of [part1, part2].entries()) {
      const r = JSON.parse(
        await aws.run([
          's3api',
          'upload-part',
          '--bucket',
          'cli-mpu',
          '--key',
          'assembled.bin',
          '--upload-id',
          UploadId,
          '--part-number',
          String(i + 1),
          '--body',
          path,
        ]),
      );
      parts.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    const listed = JSON.parse(
      await aws.run([
        's3api',
        'list-parts',
        '--bucket',
        'cli-mpu',
        '--key',
        'assembled.bin',
        '--upload-id',
        UploadId,
      ]),
    );
    expect(listed.Parts.map((p: { PartNumber: number; Size: number }) => [p.PartNumber, p.Size])).toEqual([
      [1, 5 * MiB],
      [2, 1000],
    ]);
    const partsFile = join(work, 'parts.json');
    await writeFile(partsFile, JSON.stringify({ Parts: parts }));
    const done = JSON.parse(
      await aws.run([
        's3api',
        'complete-multipart-upload',
        '--bucket',
        'cli-mpu',
        '--key',
        'assembled.bin',
        '--upload-id',
        UploadId,
        '--multipart-upload',
        `file://${partsFile}`,
      ]),
    );
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);
    const s3 = sdkClient(gw.port);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'cli-mpu', Key: 'assembled.bin' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    s3.destroy();
    expect(bytes.equals(Buffer.concat([await readFile(part1), await readFile(part2)]))).toBe(true);
    expect(got.ETag).toBe(done.ETag);
  });

  it('browser-style POST uploads: botocore generate_presigned_post (SigV2 default and s3v4) sent with curl -F', async () => {
    await aws.run(['s3', 'mb', 's3://cli-post']);
    // botocore is aws-cli v1's own library: the same Python that runs `aws` imports it.
    const script = [
      'import json, sys, botocore.session, botocore.config',
      'out = {}',
      "for sig in ['default', 's3v4']:",
      "    cfg = botocore.config.Config(signature_version='s3v4') if sig == 's3v4' else None",
      "    c = botocore.session.get_session().create_client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',",
      "        aws_access_key_id='blobcache', aws_secret_access_key='blobcache-secret', config=cfg)",
      "    out[sig] = c.generate_presigned_post('cli-post', 'posted/' + sig + '/$' + '{filename}',",
      "        Conditions=[['starts-with', '$key', 'posted/'], ['content-length-range', 1, 1000]])",
      'print(json.dumps(out))',
    ].join('\n');
    const forms = JSON.parse(
      await new Promise<string>((resolve, reject) =>
        botocorePython().then(
          (python) =>
            execFile(python, ['-c', script, `http://127.0.0.1:${gw.port}`], (err, stdout, stderr) =>
              err ? reject(new Error(`${python} with botocore failed: ${stderr}`)) : resolve(stdout),
            ),
          reject,
        ),
      ),
    ) as Record<string, { url: string; fields: Record<string, string> }>;
    expect(Object.keys(forms.default!.fields)).toContain('AWSAccessKeyId');
    expect(Object.keys(forms.s3v4!.fields)).toContain('x-amz-signature');
    const file = join(work, 'posted.txt');
    await writeFile(file, 'posted from a form');
    for (const [sig, form] of Object.entries(forms)) {
      const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', form.url];
      for (const [name, value] of Object.entries(form.fields)) args.push('-F', `${name}=${value}`);
      args.push('-F', `file=@${file};filename=${sig}.txt`);
      const status = await new Promise<string>((resolve, reject) =>
        execFile('curl', args, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
      expect(status).toBe('204');
      const out = join(work, `posted-${sig}.out`);
      await aws.run(['s3', 'cp', `s3://cli-post/posted/${sig}/${sig}.txt`, out]);
      expect(await readFile(out, 'utf8')).toBe('posted from a form');
    }
  });

  it('presigned URLs fetched with curl: SigV2 (botocore default) and s3v4', async () => {
    await aws.run(['s3', 'mb', 's3://cli-presign']);
    const file = join(work, 'presign.txt');
    await writeFile(file, 'presigned content');
    await aws.run(['s3', 'cp', file, 's3://cli-presign/dir/p q.txt']);

    const v2 = (
      await aws.run(['s3', 'presign', 's3://cli-presign/dir/p q.txt', '--expires-in', '300'])
    ).trim();
    expect(v2).toContain('AWSAccessKeyId=');
    expect(v2).toContain('Signature=');
    const out2 = join(work, 'v2.out');
    expect(await curl(v2, out2)).toBe(200);
    expect(await readFile(out2, 'utf8')).toBe('presigned content');

    // A second aws-cli home whose config switches presigning to s3v4 (tests run concurrently).
    const awsV4 = await awsCli(gw.port);
    await awsV4.configure('[default]\ns3 =\n    signature_version = s3v4\n');
    try {
      const v4 = (
        await awsV4.run(['s3', 'presign', 's3://cli-presign/dir/p q.txt', '--expires-in', '300'])
      ).trim();
      expect(v4).toContain('X-Amz-Signature=');
      const out4 = join(work, 'v4.out');
      expect(await curl(v4, out4)).toBe(200);
      expect(await readFile(out4, 'utf8')).toBe('presigned content');
      // A tampered signature is refused.
      const tampered = v4.replace(
        /X-Amz-Signature=([0-9a-f])/,
        (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`,
      );
      expect(await curl(tampered, out4)).toBe(403);
    } finally {
      await awsV4.dispose();
    }
  });
});
