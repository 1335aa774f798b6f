// Test support: reads infra/Dockerfile and lays out, in a temp directory, the files its final stage
// would hold under WORKDIR — without a Docker engine. COPY instructions are carried out as written
// (from the build context, filtered by .dockerignore, or from an earlier stage), and the `npm ci`
// of a RUN line is run for real in that stage's directory. So a source folder the gateway needs but
// the Dockerfile forgets to copy, or a dependency `npm ci --workspace` leaves out, shows up as a
// gateway that does not start from the layout.
// Invariant: every instruction is either carried out, or known not to matter outside an image
// (a base image, mkdir/chown of /data, cleaning npm's cache); anything else throws, so a new
// instruction cannot be skipped silently.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Instruction = { op: string; args: string };
export type Stage = { name: string | undefined; instructions: Instruction[] };

/** Stages with their instructions, continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Stage[] {
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
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^\s*(\S+)\s*(.*)$/.exec(l);
    const op = (m?.[1] ?? '').toUpperCase();
    const args = m?.[2] ?? '';
    if (op === 'FROM') {
      stages.push({ name: /\sAS\s+(\S+)\s*$/i.exec(args)?.[1], instructions: [] });
    }
    const current = stages.at(-1);
    if (!current) throw new Error(`Dockerfile instruction before FROM: ${l}`);
    current.instructions.push({ op, args });
  }
  return stages;
}

export function argsOf(stage: Stage, op: string): string[] {
  return stage.instructions.filter((i) => i.op === op).map((i) => i.args);
}

/** `ENV A=1 B=2` (the only form the file uses) into a record. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of argsOf(stage, 'ENV')) {
    for (const pair of args.split(/\s+/).filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`ENV entry without '=': ${pair}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** An exec-form (JSON array) argument list; shell form is an error here. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not an exec-form list: ${args}`);
  }
  return parsed as string[];
}

/**
 * .dockerignore as a predicate on context-relative paths. Only the forms the file uses are
 * understood (`name`, `**` + `/name`, `**` + `/*.ext`); any other pattern throws.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((p) => {
      const anyDepth = p.startsWith('**/');
      const tail = anyDepth ? p.slice(3) : p;
      if (tail.includes('/') || tail.includes('**') || p.startsWith('!') || /[?[]/.test(tail)) {
        throw new Error(`.dockerignore pattern not understood by this test: ${p}`);
      }
      const star = tail.startsWith('*');
      if (star && !/^\*\.[\w.]+$/.test(tail)) throw new Error(`.dockerignore pattern not understood: ${p}`);
      return (segments: string[]): boolean => {
        const candidates = anyDepth ? segments : segments.slice(0, 1);
        return candidates.some((s) => (star ? s.endsWith(tail.slice(1)) : s === tail));
      };
    });
  return (path) => {
    const segments = path.split(sep).filter(Boolean);
    return rules.some((r) => r(segments));
  };
}

export type ImageLayout = {
  /** The final stage's WORKDIR, laid out on disk. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  final: Stage;
};

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path)).isDirectory();
}

/**
 * Lays out every stage of `dockerfile` under `into/<stage index>` and returns the final one.
 * `npm` runs with --prefer-offline (the CI machine's cache is warm from its own `npm ci`).
 */
export async function layOutImage(opts: {
  context: string;
  dockerfile: string;
  into: string;
  npmTimeoutMs: number;
}): Promise<ImageLayout> {
  const stages = parseDockerfile(await readFile(join(opts.context, opts.dockerfile), 'utf8'));
  const ignored = dockerignore(await readFile(join(opts.context, '.dockerignore'), 'utf8').catch(() => ''));
  const laidOut = new Map<string, { root: string; workdir: string }>();
  let last: ImageLayout | undefined;
  for (const [index, stage] of stages.entries()) {
    const root = join(opts.into, String(index));
    await mkdir(root, { recursive: true });
    let workdir = '/';
    const env: Record<string, string> = {};
    const inWorkdir = (dest: string): string => {
      const absolute = dest.startsWith('/') ? dest : join(workdir, dest);
      const rel = relative(workdir, absolute);
      if (rel.startsWith('..')) throw new Error(`COPY outside WORKDIR ${workdir}: ${dest}`);
      return join(root, rel);
    };
    for (const { op, args } of stage.instructions) {
      if (op === 'FROM' || op === 'ENV' || op === 'EXPOSE' || op === 'VOLUME' || op === 'USER') continue;
      if (op === 'HEALTHCHECK' || op === 'STOPSIGNAL' || op === 'ENTRYPOINT' || op === 'CMD') continue;
      if (op === 'WORKDIR') {
        workdir = args;
        continue;
      }
      if (op === 'COPY') {
        const words = args.split(/\s+/);
        const from = words[0]?.startsWith('--from=') ? (words.shift() as string).slice(7) : undefined;
        const dest = words.pop() as string;
        for (const src of words) {
          let source: string;
          if (from !== undefined) {
            const earlier = laidOut.get(from);
            if (!earlier) throw new Error(`COPY --from=${from}: no such stage`);
            source = join(earlier.root, relative(earlier.workdir, src));
          } else {
            if (ignored(src)) throw new Error(`COPY of a path .dockerignore leaves out: ${src}`);
            source = join(opts.context, src);
          }
          const target =
            dest.endsWith('/') && !(await isDirectory(source))
              ? join(inWorkdir(dest), basename(src))
              : inWorkdir(dest);
          await mkdir(dirname(target), { recursive: true });
          await cp(source, target, {
            recursive: true,
            verbatimSymlinks: true,
            filter: (p) => from !== undefined || !ignored(relative(opts.context, p)),
          });
        }
        continue;
      }
      if (op === 'RUN') {
        for (const command of args.split('&&').map((c) => c.trim())) {
          if (command.startsWith('npm ci ')) {
            const argv = command.split(/\s+/).slice(1);
            await run('npm', [...argv, '--prefer-offline'], {
              cwd: inWorkdir('.'),
              timeout: opts.npmTimeoutMs,
              maxBuffer: 16 * 2 ** 20,
            });
          } else if (/^npm cache clean\b/.test(command) || /^(mkdir -p|chown \S+) \/data$/.test(command)) {
            // Image hygiene or the volume's mount point: nothing to lay out (and cleaning the
            // host's npm cache is not this test's business).
          } else {
            throw new Error(`RUN command this test cannot stand in for: ${command}`);
          }
        }
        continue;
      }
      throw new Error(`Dockerfile instruction this test cannot stand in for: ${op} ${args}`);
    }
    Object.assign(env, envOf(stage));
    if (stage.name) laidOut.set(stage.name, { root, workdir });
    last = {
      root,
      workdir,
      env,
      entrypoint: execForm(argsOf(stage, 'ENTRYPOINT')[0] ?? '[]'),
      cmd: execForm(argsOf(stage, 'CMD')[0] ?? '[]'),
      final: stage,
    };
  }
  if (!last) throw new Error('Dockerfile without a stage');
  return last;
}
