// The disk budget (BLOBCACHE_MAX_BYTES). In store mode nothing is evicted: a write whose announced
// size would pass the budget is refused before its body is read; the engine refuses any chunk put
// past it (EngineFullError → the same S3 error, see responses.ts) for bodies of unannounced size.
// The answer is 507 XMinioStorageFull with a message naming the budget. S3 has no "store full"
// code; MinIO's is the de-facto one among S3-compatible stores. A 400 EntityTooLarge would blame
// the object for the store's state. AWS SDK v3 and botocore retry only 500/502/503/504, so the
// 507 fails at once instead of being retried (a client that does retry just gets 507 again).
import { S3Error } from '@blobcache/s3-protocol';
import type { GatewayConfig } from '../config.ts';
import type { S3Context } from './context.ts';

export function storeFullError(config: GatewayConfig, cause?: unknown): S3Error {
  return new S3Error(
    'XMinioStorageFull',
    `blobcache store is full: the write would exceed BLOBCACHE_MAX_BYTES (${config.maxBytes} bytes). Delete objects or raise the limit.`,
    cause === undefined ? {} : { cause },
  );
}

export function checkCapacity(ctx: Pick<S3Context, 'config' | 'store'>, incomingBytes: number): void {
  if (ctx.config.maxBytes === 0) return;
  if (ctx.store.engine.stats().liveBytes + incomingBytes > ctx.config.maxBytes)
    throw storeFullError(ctx.config);
}
