// The lifecycle sweep against a real store, with the clock passed in: what is selected and due
// goes, nothing else does, and an object written again after the sweep judged it survives.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sweepLifecycle } from './lifecycle-sweep.ts';
import { UploadStore } from './multipart-store.ts';
import type { ObjectHead } from './object-head.ts';
import type { ObjectStore } from './object-store.ts';
import { openStore } from './open-store.ts';

const DAY_MS = 86_400_000;
const logger = pino({ level: 'silent' });

function lifecycle(...rules: string[]): string {
  return `<LifecycleConfiguration>${rules.map((r) => `<Rule>${r}</Rule>`).join('')}</LifecycleConfiguration>`;
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

describe('sweepLifecycle', () => {
  let dir: string;
  let store: ObjectStore;

  async function put(key: string, body: string, createdMs: number, tags?: ObjectHead['tags']): Promise<void> {
    const w = await store.beginWrite('bkt', key);
    await w.write(once(Buffer.from(body)), Number.MAX_SAFE_INTEGER);
    await w.commit({
      size: body.length,
      etag: `etag-${key}-${createdMs}`,
      lastModifiedMs: createdMs,
      contentType: 'text/plain',
      meta: {},
      checksums: {},
      ...(tags ? { tags } : {}),
    });
  }
  const keys = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const k of ['logs/old', 'logs/new', 'logs/big', 'keep/old', 'tmp/tagged', 'tmp/untagged'])
      if (await store.getHead('bkt', k)) out.push(k);
    return out;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blobcache-lifecycle-'));
    store = await openStore({ dataDir: dir, maxBytes: 0, logger });
    await store.createBucket('bkt', 'us-east-1');
  });
  afterEach(async () => {
    await store.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('expires exactly the selected objects once they are due (days rounded up to midnight UTC)', async () => {
    const now = Date.parse('2026-06-10T12:00:00Z');
    await put('logs/old', 'x', Date.parse('2026-06-01T23:00:00Z')); // due 2026-06-09T00:00Z
    await put('logs/new', 'x', Date.parse('2026-06-08T01:00:00Z')); // due 2026-06-16T00:00Z
    await put('logs/big', 'x'.repeat(500), Date.parse('2026-06-01T00:00:00Z')); // too large for the rule
    await put('keep/old', 'x', Date.parse('2026-01-01T00:00:00Z')); // outside the prefix
    await put('tmp/tagged', 'x', Date.parse('2026-06-09T00:00:00Z'), [{ key: 'kind', value: 'scratch' }]);
    await put('tmp/untagged', 'x', Date.parse('2026-06-09T00:00:00Z'));
    await store.updateBucket('bkt', (r) => ({
      ...r,
      lifecycle: lifecycle(
        '<Filter><And><Prefix>logs/</Prefix><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>7</Days></Expiration>',
        '<Filter><Tag><Key>kind</Key><Value>scratch</Value></Tag></Filter><Status>Enabled</Status><Expiration><Date>2026-06-10T00:00:00Z</Date></Expiration>',
        '<Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration>',
      ),
    }));
    expect(await sweepLifecycle(store, now)).toEqual({ buckets: 1, expired: 2, aborted: 0, transitioned: 0 });
    expect(await keys()).toEqual(['logs/new', 'logs/big', 'keep/old', 'tmp/untagged']);
    // Not before its midnight; then logs/new goes too, and nothing else changes.
    expect((await sweepLifecycle(store, Date.parse('2026-06-15T23:59:59Z'))).expired).toBe(0);
    expect((await sweepLifecycle(store, Date.parse('2026-06-16T00:00:00Z'))).expired).toBe(1);
    expect(await keys()).toEqual(['logs/big', 'keep/old', 'tmp/untagged']);
  });

  it('leaves an object that was written again after the sweep judged it', async () => {
    await put('logs/old', 'x', Date.parse('2026-01-01T00:00:00Z'));
    await store.updateBucket('bkt', (r) => ({
      ...r,
      lifecycle: lifecycle('<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'),
    }));
    // The sweep reads heads from the listing; rewrite the object between listing and delete by
    // overwriting it before the sweep's delete takes the key lock.
    const original = store.deleteObject.bind(store);
    store.deleteObject = async (bucket, key, check) => {
      await put(key, 'rewritten', Date.now());
      return original(bucket, key, check);
    };
    expect((await sweepLifecycle(store, Date.parse('2026-06-01T00:00:00Z'))).expired).toBe(0);
    store.deleteObject = original;
    expect((await store.getHead('bkt', 'logs/old'))?.size).toBe('rewritten'.length);
  });

  it('moves objects down the storage class waterfall as transitions fall due, in place', async () => {
    const big = 'x'.repeat(200 * 1024);
    const created = Date.parse('2026-01-01T10:00:00Z');
    await put('logs/big', big, created);
    await put('logs/small', 'x', created); // under 128 KiB: S3 leaves it where it is
    await put('keep/old', big, created); // outside the prefix
    await store.updateBucket('bkt', (r) => ({
      ...r,
      lifecycle: lifecycle(
        '<Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition><Transition><Days>90</Days><StorageClass>GLACIER_IR</StorageClass></Transition>',
      ),
    }));
    const classOf = async (k: string) => (await store.getHead('bkt', k))?.storageClass;
    const before = await store.getHead('bkt', 'logs/big');
    expect((await sweepLifecycle(store, Date.parse('2026-01-31T00:00:00Z'))).transitioned).toBe(0);
    expect((await sweepLifecycle(store, Date.parse('2026-02-01T00:00:00Z'))).transitioned).toBe(1);
    expect(await classOf('logs/big')).toBe('STANDARD_IA');
    expect((await sweepLifecycle(store, Date.parse('2026-02-02T00:00:00Z'))).transitioned).toBe(0);
    expect((await sweepLifecycle(store, Date.parse('2026-04-02T00:00:00Z'))).transitioned).toBe(1);
    const after = await store.getHead('bkt', 'logs/big');
    expect(after?.storageClass).toBe('GLACIER_IR');
    // Same version: ETag, Last-Modified and version id are the object's own.
    expect([after?.versionId, after?.etag, after?.lastModifiedMs]).toEqual([
      before?.versionId,
      before?.etag,
      before?.lastModifiedMs,
    ]);
    expect(await classOf('logs/small')).toBeUndefined();
    expect(await classOf('keep/old')).toBeUndefined();
  });

  it('aborts incomplete multipart uploads under the prefix once due', async () => {
    const uploads = UploadStore.of(store);
    const upload = (key: string) => ({ key, contentType: 'text/plain', meta: {}, owner: 'blobcache' });
    const inScope = await uploads.create('bkt', upload('uploads/a'));
    const outOfScope = await uploads.create('bkt', upload('other/b'));
    await store.updateBucket('bkt', (r) => ({
      ...r,
      lifecycle: lifecycle(
        '<Filter><Prefix>uploads/</Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>',
      ),
    }));
    expect((await sweepLifecycle(store, Date.now())).aborted).toBe(0); // not due yet
    expect((await sweepLifecycle(store, Date.now() + 2 * DAY_MS)).aborted).toBe(1);
    expect(await uploads.get('bkt', inScope, 'uploads/a')).toBeUndefined();
    expect(await uploads.get('bkt', outOfScope, 'other/b')).toBeDefined();
  });
});
