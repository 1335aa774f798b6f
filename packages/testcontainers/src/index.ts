export {
  BlobcacheContainer,
  BlobcacheContainerError,
  type BlobcacheLogLevel,
  type BlobcacheS3ClientConfig,
  type BlobcacheUpstreamOptions,
  buildBlobcacheImage,
  DEFAULT_BLOBCACHE_IMAGE,
  MIN_MAX_BYTES,
  REPOSITORY_ROOT,
  StartedBlobcacheContainer,
} from './blobcache-container.ts';
export { dockerEngineReachable } from './docker.ts';
