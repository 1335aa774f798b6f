// The slice of @blobcache/engine's BlobEngine that the store uses. Kept as a structural type so the
// store states exactly which engine behaviours it relies on:
// - put/delete resolve only once durable (durable mode), and reject on failure;
// - keys() is ordered by raw key bytes and sees every acknowledged write;
// - keys({withValues}) carries values no larger than the engine's inline limit.
export type EngineKey = Uint8Array | string;

export type EngineEntry = { key: Buffer; value?: Buffer };

export type EnginePort = {
  put(key: EngineKey, value: Uint8Array): Promise<void>;
  get(key: EngineKey): Promise<Buffer | undefined>;
  /** get() into the caller's buffer (a view of it, or a fresh buffer when it does not fit). */
  getInto?(key: EngineKey, dst: Buffer): Promise<Buffer | undefined>;
  delete(key: EngineKey): Promise<boolean>;
  keys(opts: {
    prefix?: EngineKey;
    startAfter?: EngineKey;
    limit?: number;
    withValues?: boolean;
  }): AsyncIterable<EngineEntry>;
  stats(): { liveBytes: number; degraded: boolean; degradedReason?: string | undefined };
  close(): Promise<void>;
};
