// infra/Dockerfile without a Docker engine: its runtime stage's promises (unprivileged user,
// /data volume, port, health check, configuration only through the gateway's own environment
// variables) are read from the file, and its ENTRYPOINT + CMD are run the way the image runs them:
// as PID 1 of a fresh PID namespace, as uid 1000 (the node image's `node` user), with the image's
// ENV. A PID 1 ignores every signal it has no handler for, so this is where a shell-form
// entrypoint or a missing SIGTERM handler would show: `docker stop` would hang until SIGKILL.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { configSchema, DEV_CREDENTIAL, startGateway } from '@blobcache/gateway';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const NODE_UID = 1000;

type Instruction = { op: string; args: string };

/** The instructions of the LAST stage (the runtime image), continuation lines joined. */
function runtimeStage(text: string): Instruction[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (pending === '' && /^\s*(#|$)/.test(raw)) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const all = logical.map((l) => {
    const m = /^\s*(\S+)\s*(.*)$/.exec(l);
    return { op: (m?.[1] ?? '').toUpperCase(), args: m?.[2] ?? '' };
  });
  const lastFrom = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(lastFrom);
}

function only(stage: Instruction[], op: string): string[] {
  return stage.filter((i) => i.op === op).map((i) => i.args);
}

/** `ENV A=1 B=2` (the only form the file uses) into a record. */
function envOf(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of only(stage, 'ENV')) {
    for (const pair of args.split(/\s+/).filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`ENV entry without '=': ${pair}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** An exec-form (JSON array) argument list; anything else is shell form and is an error here. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not an exec-form list: ${args}`);
  }
  return parsed as string[];
}

const stage = runtimeStage(await readFile(join(repoRoot, 'infra/Dockerfile'), 'utf8'));
const imageEnv = envOf(stage);
const entrypoint = execForm(only(stage, 'ENTRYPOINT')[0] ?? 'null');
const cmd = execForm(only(stage, 'CMD')[0] ?? 'null');
const healthcheck = only(stage, 'HEALTHCHECK')[0] ?? '';
const healthcheckCmd = execForm(healthcheck.slice(healthcheck.indexOf('CMD ') + 4));

const configEnvNames = new Set(
  Object.values(configSchema.shape).map((f) => (f.meta() as { env: string } | undefined)?.env),
);

describe('infra/Dockerfile runtime stage', () => {
  it('runs unprivileged, serves 9000, keeps its data in the /data volume', () => {
    expect(only(stage, 'USER')).toEqual(['node']);
    expect(only(stage, 'EXPOSE')).toEqual(['9000']);
    expect(only(stage, 'VOLUME')).toEqual(['/data']);
    expect(imageEnv.BLOBCACHE_DATA_DIR).toBe('/data');
    expect(imageEnv.BLOBCACHE_PORT).toBe('9000');
    // The volume's mount point must be made (and handed to `node`) before it is declared.
    const runs = only(stage, 'RUN').join('\n');
    expect(runs).toMatch(/chown node:node \/data/);
    const order = stage.map((i) => i.op);
    expect(order.indexOf('RUN')).toBeLessThan(order.indexOf('VOLUME'));
    expect(order.indexOf('VOLUME')).toBeLessThan(order.indexOf('USER'));
  });

  it('is configured only through variables the gateway itself reads', () => {
    for (const name of Object.keys(imageEnv)) {
      if (name === 'NODE_ENV') continue;
      expect(configEnvNames, `ENV ${name} is not a gateway setting`).toContain(name);
    }
    // Nothing reads a config file: the gateway has none, and ARG values would bake settings in.
    expect(only(stage, 'ARG')).toEqual([]);
  });

  it('starts node itself (exec form, no shell) so SIGTERM reaches the CLI', () => {
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint.slice(1)).toEqual(['apps/gateway/src/cli.ts']);
    expect(cmd).toEqual(['serve']);
    expect(healthcheckCmd[0]).toBe('node');
    expect(healthcheckCmd.join(' ')).toContain('/_blobcache/health');
    const stop = only(stage, 'STOPSIGNAL');
    expect(stop.length === 0 || stop[0] === 'SIGTERM').toBe(true);
  });
});

// Root can make a PID namespace and drop to uid 1000 (as on CI); a developer's unprivileged shell
// runs the same entrypoint as an ordinary child instead. uid 1000 must be able to read this
// checkout and run this node (a clone under /root is not readable to it): when it cannot, the
// entrypoint still runs as PID 1, as root.
const asRoot = process.getuid?.() === 0 && existsSync('/usr/bin/unshare') && existsSync('/usr/bin/setpriv');
const asNodeUser =
  asRoot &&
  spawnSync(
    'setpriv',
    [
      `--reuid=${NODE_UID}`,
      `--regid=${NODE_UID}`,
      '--clear-groups',
      process.execPath,
      '-e',
      'require("node:fs").accessSync(process.argv[1], require("node:fs").constants.R_OK)',
      join(repoRoot, entrypoint[1] ?? ''),
    ],
    { stdio: 'ignore', timeout: 10_000 },
  ).status === 0;
const title = asRoot
  ? `the image entrypoint as PID 1 of its own PID namespace, as ${asNodeUser ? 'uid 1000' : 'root (uid 1000 cannot read this checkout)'}`
  : 'the image entrypoint as an ordinary child process (not root: no PID namespace, own uid)';

type Launched = {
  child: ChildProcess;
  port: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
};

function launch(env: Record<string, string>): Promise<Launched> {
  const argv = [...entrypoint, ...cmd];
  const dropToNode = asNodeUser
    ? ['setpriv', `--reuid=${NODE_UID}`, `--regid=${NODE_UID}`, '--clear-groups']
    : [];
  const wrapped = asRoot
    ? ['unshare', '--pid', '--fork', '--kill-child', ...dropToNode, process.execPath, ...argv.slice(1)]
    : [process.execPath, ...argv.slice(1)];
  const child = spawn(wrapped[0] as string, wrapped.slice(1), {
    cwd: repoRoot,
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

describe(title, () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('answers its health check, and stops cleanly on SIGTERM with every write kept', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-image-data-'));
    dirs.push(dataDir);
    if (asNodeUser) await chown(dataDir, NODE_UID, NODE_UID);
    // The image's ENV, except what only a container provides: loopback stands in for 0.0.0.0
    // (the gateway then accepts the development pair) and port 0 for a port of its own.
    const gw = await launch({
      ...imageEnv,
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
