// A Testcontainers module for the blobcache S3 gateway.
//
// Invariant: a started container always has explicit credentials (the gateway refuses to bind a
// non-loopback address without them), and the S3 client settings handed out target it with
// path-style addressing, since the mapped host is an IP or `localhost` without wildcard DNS.
import { randomBytes } from 'node:crypto';
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';

const S3_PORT = 9000;
export const DEFAULT_BLOBCACHE_IMAGE = 'blobcache:local';

export interface BlobcacheS3ClientConfig {
  endpoint: string;
  region: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export class BlobcacheContainer extends GenericContainer {
  private accessKeyId = 'blobcache';
  private secretAccessKey = randomBytes(18).toString('base64url');
  private region = 'us-east-1';

  constructor(image: string = DEFAULT_BLOBCACHE_IMAGE) {
    super(image);
    this.withExposedPorts(S3_PORT);
    this.withWaitStrategy(Wait.forHttp('/_blobcache/health', S3_PORT).forStatusCode(200));
  }

  withCredentials(accessKeyId: string, secretAccessKey: string): this {
    this.accessKeyId = accessKeyId;
    this.secretAccessKey = secretAccessKey;
    return this;
  }

  withRegion(region: string): this {
    this.region = region;
    return this;
  }

  /** Read-through cache mode: every GET miss is fetched from this S3 endpoint. */
  withUpstream(endpoint: string, accessKeyId: string, secretAccessKey: string): this {
    this.withEnvironment({
      BLOBCACHE_UPSTREAM_ENDPOINT: endpoint,
      BLOBCACHE_UPSTREAM_ACCESS_KEY_ID: accessKeyId,
      BLOBCACHE_UPSTREAM_SECRET_ACCESS_KEY: secretAccessKey,
      BLOBCACHE_UPSTREAM_FORCE_PATH_STYLE: 'true',
    });
    return this;
  }

  override async start(): Promise<StartedBlobcacheContainer> {
    this.withEnvironment({
      BLOBCACHE_HOST: '0.0.0.0',
      BLOBCACHE_PORT: String(S3_PORT),
      BLOBCACHE_CREDENTIALS: `${this.accessKeyId}:${this.secretAccessKey}`,
      BLOBCACHE_REGION: this.region,
    });
    const started = await super.start();
    return new StartedBlobcacheContainer(started, this.accessKeyId, this.secretAccessKey, this.region);
  }
}

export class StartedBlobcacheContainer extends AbstractStartedContainer {
  private readonly accessKeyId: string;
  private readonly secretAccessKey: string;
  private readonly region: string;

  constructor(started: StartedTestContainer, accessKeyId: string, secretAccessKey: string, region: string) {
    super(started);
    this.accessKeyId = accessKeyId;
    this.secretAccessKey = secretAccessKey;
    this.region = region;
  }

  getPort(): number {
    return this.startedTestContainer.getMappedPort(S3_PORT);
  }

  getEndpoint(): string {
    return `http://${this.getHost()}:${this.getPort()}`;
  }

  /** Settings for `new S3Client(...)` from `@aws-sdk/client-s3`. */
  getS3ClientConfig(): BlobcacheS3ClientConfig {
    return {
      endpoint: this.getEndpoint(),
      region: this.region,
      forcePathStyle: true,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
    };
  }
}
