// The cached copy a write-through PutObject leaves behind, so the first read after a write hits.
// The verified body is teed into the cache store's chunk writer while it streams to the upstream;
// the copy is committed only after the upstream accepted the PUT.
// Invariants:
// - The copy says exactly what the upstream says: its head fields (ETag, size, content type and
//   other standard headers, user metadata, Last-Modified) come from an upstream HEAD after the PUT
//   (a PUT response carries no Last-Modified), and it is committed only if that HEAD names the
//   object this PUT created (same ETag, size and, when versioned, version id). A later
//   revalidation sends that ETag in If-None-Match, exactly as for a copy filled by a GET.
// - Nothing partial or unaccepted is ever visible: the head commit is the only commit point, it
//   happens after the upstream's 200, under the store's key lock, and only if no other write to
//   the key overlapped this one (KeyFence `overlapped`: the upstream may have applied them in
//   either order). Otherwise the chunks are discarded.
// - A cache failure costs the cache, never the PUT: the tee detaches and the upstream body goes on.
// - Memory stays bounded: the chunk writer's in-flight chunks plus one piece in the tee.
// A CopyObject's destination is cached the same way when its source is cached: the upstream copies
// server-side, and the cached source's bytes are copied locally (no upstream GET) if the
// destination's HEAD reports the cached source's ETag and size (the same bytes).
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { ObjectHead } from '../store/object-head.ts';
import type { PendingWrite } from '../store/object-store.ts';
import { beginCacheWrite } from './fill.ts';
import type { WriteTicket } from './key-fence.ts';
import { SideTee } from './side-tee.ts';
import { cacheKey, type UpstreamCache } from './upstream-cache.ts';
import { headFieldsFrom, unquoteEtag } from './upstream-head.ts';

class Overlapped extends Error {}

/** Head fields of `key` as the upstream reports them now (the HEAD that confirms a write). */
async function upstreamHead(up: UpstreamCache, ub: string, key: string) {
  up.counters.inc('upstreamRequests');
  const out = await up.client.send(new HeadObjectCommand({ Bucket: ub, Key: key }));
  return { fields: headFieldsFrom(out), versionId: out.VersionId };
}

/** What the upstream said when it accepted the PUT. */
export type AcceptedPut = { etag: string | undefined; versionId: string | undefined };

export class WriteCopy {
  /** The body to send upstream (the same bytes also flow into the cache). */
  readonly body: AsyncIterable<Uint8Array>;
  readonly #up: UpstreamCache;
  readonly #ub: string;
  readonly #key: string;
  readonly #size: number;
  /** The cache write, once its body was fully taken; undefined when it failed (already aborted). */
  readonly #written: Promise<PendingWrite | undefined>;
  #settled = false;

  /** Starts teeing `source` (a verified body of exactly `size` bytes) into the cache store. */
  constructor(up: UpstreamCache, ub: string, key: string, size: number, source: AsyncIterable<Uint8Array>) {
    this.#up = up;
    this.#ub = ub;
    this.#key = key;
    this.#size = size;
    const tee = new SideTee(source);
    this.body = tee.main;
    this.#written = (async () => {
      let pending: PendingWrite | undefined;
      try {
        pending = await beginCacheWrite(up.store, ub, key);
        await pending.write(tee.side, size);
        return pending;
      } catch (err) {
        tee.detach();
        await pending?.abort().catch(() => {});
        up.logger.debug({ err, bucket: ub, key }, 'write-through cache copy not written');
        return undefined;
      }
    })();
  }

  /**
   * Commits the copy after the upstream accepted the PUT; true when the copy is now the cached
   * object (and fresh), false when it was discarded (the caller then drops the cached copy).
   */
  async install(accepted: AcceptedPut, write: WriteTicket): Promise<boolean> {
    this.#settled = true;
    const pending = await this.#written;
    if (!pending) return false;
    let committed: ObjectHead | undefined;
    try {
      if (write.overlapped) throw new Overlapped();
      const { fields, versionId } = await upstreamHead(this.#up, this.#ub, this.#key);
      const sameObject =
        fields.size === this.#size &&
        (accepted.etag === undefined || unquoteEtag(accepted.etag) === fields.etag) &&
        (accepted.versionId === undefined || accepted.versionId === versionId);
      // Someone else wrote the key upstream since (not through this gateway): not ours to cache.
      if (!sameObject) throw new Overlapped();
      committed = await pending.commit(fields, () => {
        if (write.overlapped) throw new Overlapped();
      });
    } catch (err) {
      // commit() discards its own chunks when it throws; abort() is then a no-op.
      await pending.abort().catch(() => {});
      if (!(err instanceof Overlapped)) {
        this.#up.logger.debug({ err, bucket: this.#ub, key: this.#key }, 'write-through copy not cached');
      }
      return false;
    }
    this.#up.markFresh(cacheKey(this.#ub, this.#key), committed.versionId);
    this.#up.counters.inc('writeCached');
    return true;
  }

  /** The upstream refused the PUT (or it failed): the copy is discarded. */
  async discard(): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    const pending = await this.#written;
    await pending?.abort().catch(() => {});
  }
}

/**
 * After an upstream CopyObject into `ub/key`: caches the destination from the cached source
 * (`srcUb/srcKey`) when the upstream's destination has the source's ETag and size. True when the
 * destination is now cached (and fresh); false when nothing was installed (the caller drops the
 * cached destination, as for any write).
 */
export async function cacheCopiedObject(
  up: UpstreamCache,
  src: { ub: string; key: string },
  ub: string,
  key: string,
  write: WriteTicket,
): Promise<boolean> {
  if (write.overlapped) return false;
  const source = await up.store.openObject(src.ub, src.key);
  if (!source) return false;
  let pinned = true;
  const unpin = (): void => {
    if (pinned) source.release();
    pinned = false;
  };
  let pending: PendingWrite | undefined;
  try {
    const size = source.head.size;
    if (!up.admits(size)) return false;
    const { fields } = await upstreamHead(up, ub, key);
    // Not the bytes we hold (the source changed upstream since it was cached, or the upstream
    // gave the copy a new ETag): the next GET fills the destination instead.
    if (fields.etag !== source.head.etag || fields.size !== size) return false;
    pending = await beginCacheWrite(up.store, ub, key);
    await pending.write(source.read(0, size), size);
    unpin();
    const head = await pending.commit(fields, () => {
      if (write.overlapped) throw new Overlapped();
    });
    pending = undefined;
    up.markFresh(cacheKey(ub, key), head.versionId);
    up.counters.inc('writeCached');
    return true;
  } catch (err) {
    if (!(err instanceof Overlapped)) up.logger.debug({ err, bucket: ub, key }, 'copied object not cached');
    return false;
  } finally {
    unpin();
    await pending?.abort().catch(() => {});
  }
}
