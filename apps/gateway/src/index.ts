// @blobcache/gateway: the S3 gateway as a library (tests, embedding) and the `blobcache` CLI.
export {
  ConfigError,
  type Credential,
  configSchema,
  DEV_CREDENTIAL,
  type GatewayConfig,
  type GatewayConfigInput,
  loadConfig,
  parseConfig,
  renderConfigTable,
  renderHelp,
} from './config.ts';
export { type RunningGateway, type StartOptions, startGateway } from './gateway.ts';
export { HEALTH_PATH } from './health.ts';
export type { S3Route } from './s3/route.ts';
export type { ObjectStore } from './store/object-store.ts';
export {
  startTestServer,
  type TestLogLevel,
  type TestS3ClientConfig,
  type TestServer,
  type TestServerOptions,
} from './test-server.ts';
