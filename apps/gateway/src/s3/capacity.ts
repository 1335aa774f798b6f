// The disk budget (BLOBCACHE_MAX_BYTES). In store mode nothing is evicted: a write whose announced
// size would pass the budget is refused before its body is read; the engine refuses any chunk put
// past it (EngineFullError → the same S3 error, see responses.ts) for bodies of unannounced size.
// The answer is 400 EntityTooLarge with a message naming the budget: S3 has no "store full" code,
// and a 4xx keeps SDKs from retrying a write that cannot succeed (503/507 would be retried).
import { S3Error } from '@blobcache/s3-protocol';
import type { GatewayConfig } from '../config.ts';
import type { S3Context } from './context.ts';

export function storeFullError(config: GatewayConfig, cause?: unknown): S3Error {
  return new S3Error(
    'EntityTooLarge',
    `blobcache store is full: the write would exceed BLOBCACHE_MAX_BYTES (${config.maxBytes} bytes). Delete objects or raise the limit.`,
    cause === undefined ? {} : { cause },
  );
}

export function checkCapacity(ctx: Pick<S3Context, 'config' | 'store'>, incomingBytes: number): void {
  if (ctx.config.maxBytes === 0) return;
  if (ctx.store.engine.stats().liveBytes + incomingBytes > ctx.config.maxBytes)
    throw storeFullError(ctx.config);
}
