// infra/Dockerfile without a Docker engine. Its runtime stage's promises (unprivileged user, /data
// volume, port, health check, configuration only through the gateway's own environment variables)
// are read from the file. Then the image's files are laid out as its COPY and `npm ci` lines make
// them (testing/dockerfile-image.ts), and its ENTRYPOINT + CMD run from that layout the way the
// image runs them: as PID 1 of a fresh PID namespace, as uid 1000 (the node image's `node` user),
// with the image's ENV. A PID 1 ignores every signal it has no handler for, so this is where a
// shell-form entrypoint or a missing SIGTERM handler would show (`docker stop` would hang until
// SIGKILL), and where a source folder or dependency missing from the image would stop the start.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { configSchema, DEV_CREDENTIAL, startGateway } from '@blobcache/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  argsOf,
  envOf,
  execForm,
  type ImageLayout,
  layOutImage,
  parseDockerfile,
} from './testing/dockerfile-image.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const NODE_UID = 1000;

const stages = parseDockerfile(await readFile(join(repoRoot, 'infra/Dockerfile'), 'utf8'));
const final = stages.at(-1) as (typeof stages)[number];
const only = (op: string) => argsOf(final, op);
const imageEnv = envOf(final);
const healthcheck = only('HEALTHCHECK')[0] ?? '';
const healthcheckCmd = execForm(healthcheck.slice(healthcheck.indexOf('CMD ') + 4));

const configEnvNames = new Set(
  Object.values(configSchema.shape).map((f) => (f.meta() as { env: string } | undefined)?.env),
);

describe('infra/Dockerfile runtime stage', () => {
  it('runs unprivileged, serves 9000, keeps its data in the /data volume', () => {
    expect(only('USER')).toEqual(['node']);
    expect(only('EXPOSE')).toEqual(['9000']);
    expect(only('VOLUME')).toEqual(['/data']);
    expect(imageEnv.BLOBCACHE_DATA_DIR).toBe('/data');
    expect(imageEnv.BLOBCACHE_PORT).toBe('9000');
    // The volume's mount point must be made (and handed to `node`) before it is declared.
    expect(only('RUN').join('\n')).toMatch(/chown node:node \/data/);
    const order = final.instructions.map((i) => i.op);
    expect(order.indexOf('RUN')).toBeLessThan(order.indexOf('VOLUME'));
    expect(order.indexOf('VOLUME')).toBeLessThan(order.indexOf('USER'));
  });

  it('is configured only through variables the gateway itself reads', () => {
    for (const name of Object.keys(imageEnv)) {
      if (name === 'NODE_ENV') continue;
      expect(configEnvNames, `ENV ${name} is not a gateway setting`).toContain(name);
    }
    // Build arguments would bake settings into the image.
    expect(only('ARG')).toEqual([]);
  });

  it('starts node itself (exec form, no shell) so SIGTERM reaches the CLI', () => {
    const entrypoint = execForm(only('ENTRYPOINT')[0] ?? 'null');
    expect(entrypoint).toEqual(['node', 'apps/gateway/src/cli.ts']);
    expect(execForm(only('CMD')[0] ?? 'null')).toEqual(['serve']);
    expect(healthcheckCmd[0]).toBe('node');
    expect(healthcheckCmd.join(' ')).toContain('/_blobcache/health');
    const stop = only('STOPSIGNAL');
    expect(stop.length === 0 || stop[0] === 'SIGTERM').toBe(true);
  });
});

// Root can make a PID namespace and drop to uid 1000 (as on CI); a developer's unprivileged shell
// runs the same entrypoint as an ordinary child instead.
const asRoot = process.getuid?.() === 0 && existsSync('/usr/bin/unshare') && existsSync('/usr/bin/setpriv');
const dropToNode = ['setpriv', `--reuid=${NODE_UID}`, `--regid=${NODE_UID}`, '--clear-groups'];

type Launched = {
  child: ChildProcess;
  port: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
};

function launch(layout: ImageLayout, asNodeUser: boolean, env: Record<string, string>): Promise<Launched> {
  // `node` of the image is this test's node (Node 22, like the node:22 base image).
  const argv = [process.execPath, ...layout.entrypoint.slice(1), ...layout.cmd];
  const wrapped = asRoot
    ? ['unshare', '--pid', '--fork', '--kill-child', ...(asNodeUser ? dropToNode : []), ...argv]
    : argv;
  const child = spawn(wrapped[0] as string, wrapped.slice(1), {
    cwd: layout.root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no listening line within 30s; stderr: ${stderr}`)),
      30_000,
    );
    let pending = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        const rec = JSON.parse(part) as Record<string, unknown>;
        lines.push(rec);
        if (rec.msg === 'blobcache listening' && typeof rec.url === 'string') {
          clearTimeout(timer);
          resolve({ child, port: Number(new URL(rec.url).port), lines, exited });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`entrypoint exited early (${code}); stderr: ${stderr}`));
    });
  });
}

/** The host pid of the process that is PID 1 inside the namespace `unshare` made. */
async function namespacePid1(unsharePid: number): Promise<number> {
  const children = (await readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8')).trim();
  const pid = Number(children.split(/\s+/)[0]);
  expect(Number.isInteger(pid) && pid > 0).toBe(true);
  return pid;
}

function runHealthcheck(port: number): Promise<number> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      healthcheckCmd.slice(1),
      { env: { BLOBCACHE_PORT: String(port) }, timeout: 10_000 },
      (err) => resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0),
    );
  });
}

const title = asRoot
  ? 'the image entrypoint, run from the files infra/Dockerfile lays out, as PID 1 of a PID namespace'
  : 'the image entrypoint, run from the files infra/Dockerfile lays out (not root: as an ordinary child, not PID 1)';

describe(title, () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  let layout: ImageLayout;
  let asNodeUser = false;

  beforeAll(async () => {
    const into = await mkdtemp(join(tmpdir(), 'blobcache-image-'));
    dirs.push(into);
    // uid 1000 must be able to walk into the layout, as it can into /app in the image.
    await chmod(into, 0o755);
    layout = await layOutImage({
      context: repoRoot,
      dockerfile: 'infra/Dockerfile',
      into,
      npmTimeoutMs: 300_000,
    });
    // uid 1000 must also be able to run this node; a node under /root (say) is not: then the
    // entrypoint still runs as PID 1, as root.
    asNodeUser =
      asRoot &&
      spawnSync(
        dropToNode[0] as string,
        [
          ...dropToNode.slice(1),
          process.execPath,
          '-e',
          'require("node:fs").accessSync(process.argv[1])',
          join(layout.root, layout.entrypoint[1] ?? ''),
        ],
        { stdio: 'ignore', timeout: 10_000 },
      ).status === 0;
  }, 360_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('holds only the gateway and the workspaces it imports, with production dependencies', () => {
    expect(existsSync(join(layout.root, 'apps/gateway/src/cli.ts'))).toBe(true);
    expect(existsSync(join(layout.root, 'node_modules/@blobcache/engine/src/index.ts'))).toBe(true);
    // .dockerignore keeps tests out; the deps stage keeps test-only packages out.
    expect(existsSync(join(layout.root, 'apps/gateway/src/cli.test.ts'))).toBe(false);
    expect(existsSync(join(layout.root, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(join(layout.root, 'node_modules/testcontainers'))).toBe(false);
  });

  it('answers its health check, and stops cleanly on SIGTERM as PID 1 with every write kept', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-image-data-'));
    dirs.push(dataDir);
    if (asNodeUser) await chown(dataDir, NODE_UID, NODE_UID);
    // The image's ENV, except what only a container provides: loopback stands in for 0.0.0.0
    // (the gateway then accepts the development pair) and port 0 for a port of its own.
    const gw = await launch(layout, asNodeUser, {
      ...layout.env,
      BLOBCACHE_HOST: '127.0.0.1',
      BLOBCACHE_PORT: '0',
      BLOBCACHE_DATA_DIR: dataDir,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
    });
    children.push(gw.child);

    let gatewayPid = gw.child.pid as number;
    if (asRoot) {
      gatewayPid = await namespacePid1(gw.child.pid as number);
      const status = await readFile(`/proc/${gatewayPid}/status`, 'utf8');
      // NSpid lists the pid in each namespace, outermost first: the last one is 1.
      expect(status).toMatch(/^NSpid:\s+\d+\s+1$/m);
      if (asNodeUser) expect(status).toMatch(new RegExp(`^Uid:\\s+${NODE_UID}\\s`, 'm'));
    }

    expect(await runHealthcheck(gw.port)).toBe(0);

    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${gw.port}`,
      region: 'us-east-1',
      credentials: DEV_CREDENTIAL,
      forcePathStyle: true,
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'image' }));
    await s3.send(new PutObjectCommand({ Bucket: 'image', Key: 'kept.txt', Body: 'written before SIGTERM' }));
    s3.destroy();

    process.kill(gatewayPid, 'SIGTERM');
    expect(await gw.exited).toBe(0);
    const msgs = gw.lines.map((l) => l.msg);
    expect(gw.lines.find((l) => l.msg === 'shutting down')?.signal).toBe('SIGTERM');
    expect(msgs.at(-1)).toBe('blobcache stopped');
    expect(await runHealthcheck(gw.port)).not.toBe(0);

    // A clean stop closed the engine: the same data directory opens and serves the object.
    const again = await startGateway({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent' });
    try {
      const s3b = new S3Client({
        endpoint: again.url,
        region: 'us-east-1',
        credentials: DEV_CREDENTIAL,
        forcePathStyle: true,
      });
      const got = await s3b.send(new GetObjectCommand({ Bucket: 'image', Key: 'kept.txt' }));
      expect(await got.Body?.transformToString()).toBe('written before SIGTERM');
      s3b.destroy();
    } finally {
      await again.close();
    }
  }, 120_000);
});
