// Parent side of the crash test: spawns the crash child, SIGKILLs it, parses what it issued and
// what was acknowledged, and decides which states each key may be in after recovery.
//
// Invariant (the durability contract under test, per key, ops numbered in issue order):
//   let A = the last op on the key acknowledged before the kill.
//   After reopen the key's state must be the state produced by A or by some op issued after A
//   (a put's exact bytes, or "absent" for a delete). With no acknowledged op in the round the
//   state may also be the one the key had when the round started.
// A state produced by an op issued BEFORE A, or any byte sequence that is no issued version,
// is a durability or integrity failure.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobEngine } from '../src/index.ts';
import { checkListing } from './listing-check.ts';
import { keyName, makeValue } from './model.ts';

export const CHILD_SCRIPT: string = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-child.ts');

export type KeyState = { version: number; deleted: boolean } | undefined;

export interface IssuedOp {
  op: number;
  key: number;
  kind: 'p' | 'd';
  version: number;
  acked: boolean;
}

export interface RoundLog {
  /** The child got as far as calling BlobEngine.open (recovery running). */
  started: boolean;
  ready: boolean;
  ops: Map<number, IssuedOp>;
  rejections: string[];
  childErrors: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export interface ChildParams {
  dir: string;
  round: number;
  seed: number;
  keyCount: number;
  inFlight: number;
  maxValueBytes: number;
  engineOptions: Record<string, unknown>;
  /** Kill this many ms after the child started opening the engine (kill during recovery). */
  killAfterStartMs?: number;
  /** Kill this many ms after the child reported it opened the engine. */
  killAfterReadyMs?: number;
  /** Give up waiting for readiness after this many ms. */
  readyTimeoutMs: number;
}

function parseLine(line: string, log: RoundLog): void {
  if (line === 'R') {
    log.ready = true;
    return;
  }
  if (line === 'S') {
    log.started = true;
    return;
  }
  const tag = line[0];
  const rest = line.slice(2);
  if (tag === 'I') {
    const [op, kind, key, version] = rest.split(' ');
    const o = Number(op);
    log.ops.set(o, {
      op: o,
      kind: kind === 'd' ? 'd' : 'p',
      key: Number(key),
      version: Number(version),
      acked: false,
    });
  } else if (tag === 'A') {
    const [op] = rest.split(' ');
    const entry = log.ops.get(Number(op));
    if (entry === undefined) log.childErrors.push(`ack of unknown op: ${line}`);
    else entry.acked = true;
  } else if (tag === 'E') {
    log.rejections.push(rest);
  } else if (tag === 'X') {
    log.childErrors.push(rest);
  }
}

/** Runs one child until it is killed; resolves with everything it reported. */
export async function runChildRound(p: ChildParams): Promise<RoundLog> {
  const log: RoundLog = {
    started: false,
    ready: false,
    ops: new Map(),
    rejections: [],
    childErrors: [],
    exitCode: null,
    signal: null,
    stderr: '',
  };
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CHILD_SCRIPT,
      p.dir,
      String(p.round),
      String(p.seed),
      String(p.keyCount),
      String(p.inFlight),
      String(p.maxValueBytes),
      JSON.stringify(p.engineOptions),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let pending = '';
  let onReady: (() => void) | undefined;
  let onStart: (() => void) | undefined;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      parseLine(line, log);
      if (line === 'R' && onReady) onReady();
      if (line === 'S' && onStart) onStart();
      nl = pending.indexOf('\n');
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    if (log.stderr.length < 20_000) log.stderr += chunk;
  });
  const closed = once(child, 'close');

  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  let timer: NodeJS.Timeout | undefined;
  const readyTimeout = setTimeout(kill, p.readyTimeoutMs);
  if (p.killAfterStartMs !== undefined) {
    const after = p.killAfterStartMs;
    onStart = () => {
      clearTimeout(readyTimeout);
      timer = setTimeout(kill, after);
    };
  } else {
    onReady = () => {
      clearTimeout(readyTimeout);
      timer = setTimeout(kill, p.killAfterReadyMs ?? 0);
    };
  }
  const [code, signal] = (await closed) as [number | null, NodeJS.Signals | null];
  clearTimeout(readyTimeout);
  if (timer) clearTimeout(timer);
  log.exitCode = code;
  log.signal = signal;
  return log;
}

/** Candidate states of one key after recovery, given its state at the start of the round. */
export function allowedStates(opsForKey: IssuedOp[], before: KeyState): KeyState[] {
  const ordered = [...opsForKey].sort((a, b) => a.op - b.op);
  let lastAcked = -1;
  for (let i = 0; i < ordered.length; i++) if (ordered[i]!.acked) lastAcked = i;
  const out: KeyState[] = [];
  if (lastAcked < 0) out.push(before);
  for (let i = Math.max(lastAcked, 0); i < ordered.length; i++) {
    const o = ordered[i]!;
    out.push({ version: o.version, deleted: o.kind === 'd' });
  }
  return out;
}

export function isAbsent(s: KeyState): boolean {
  return s === undefined || s.deleted;
}

function describeState(s: KeyState): string {
  return s === undefined ? 'never written' : s.deleted ? `deleted@${s.version}` : `v${s.version}`;
}

export interface CrashVerifyParams {
  dir: string;
  engineOptions: Record<string, unknown>;
  keyCount: number;
  maxValueBytes: number;
  inlineBytes: number;
  prefixes: string[];
  /** State of every key when the round started. */
  state: Map<number, KeyState>;
  /** What the killed child issued and acknowledged; undefined = no round since `state`. */
  log: RoundLog | undefined;
  /** Keys whose records were deliberately damaged: absent or any issued version is accepted. */
  relaxed?: Set<string>;
}

/** Reopens the directory and checks every key against the rule at the top of this file. */
export async function verifyAfterCrash(
  p: CrashVerifyParams,
): Promise<{ observed: Map<number, KeyState>; problems: string[] }> {
  const problems: string[] = [];
  const perKey = new Map<number, IssuedOp[]>();
  for (const o of p.log?.ops.values() ?? []) {
    const list = perKey.get(o.key);
    if (list) list.push(o);
    else perKey.set(o.key, [o]);
  }
  const engine = await BlobEngine.open(p.dir, { durability: 'durable', ...p.engineOptions });
  const observed = new Map<number, KeyState>();
  const live = new Map<string, Buffer>();
  try {
    for (let k = 0; k < p.keyCount; k++) {
      const key = keyName(k);
      const before = p.state.get(k);
      const ops = perKey.get(k) ?? [];
      const relaxed = p.relaxed?.has(key) ?? false;
      const allowed = relaxed
        ? [before, ...ops.map((o): KeyState => ({ version: o.version, deleted: o.kind === 'd' })), undefined]
        : allowedStates(ops, before);
      const got = await engine.get(key);
      if (got === undefined) {
        if (!allowed.some(isAbsent)) {
          problems.push(`${key}: missing; allowed ${allowed.map(describeState).join(', ')}`);
        }
        observed.set(k, undefined);
        continue;
      }
      live.set(key, got);
      let match: KeyState;
      for (const s of allowed) {
        if (s === undefined || s.deleted) continue;
        if (makeValue(key, s.version, p.maxValueBytes).equals(got)) match = s;
      }
      if (match === undefined) {
        problems.push(
          `${key}: read ${got.length} bytes matching no allowed state (${allowed.map(describeState).join(', ')})`,
        );
      }
      observed.set(k, match);
    }
    const listing = await checkListing(engine, live, p.prefixes, p.inlineBytes);
    problems.push(...listing.problems);
  } finally {
    await engine.close();
  }
  return { observed, problems };
}
