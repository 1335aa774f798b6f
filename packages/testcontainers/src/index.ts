export {
  BlobcacheContainer,
  type BlobcacheS3ClientConfig,
  DEFAULT_BLOBCACHE_IMAGE,
  StartedBlobcacheContainer,
} from './blobcache-container.ts';
export { dockerEngineReachable } from './docker.ts';
