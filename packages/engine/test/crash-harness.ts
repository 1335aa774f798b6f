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
  /** Output line numbers of the issue and of the ack (order ops against flush starts/ends). */
  issueLine: number;
  ackLine: number;
}

export interface ChildStats {
  compactions: number;
  flushes: number;
  drains: number;
  degraded: boolean;
  evictions: number;
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
  lines: number;
  /** Line number of the start of each explicit flush, and which flushes resolved. */
  flushStartLine: Map<number, number>;
  flushDone: Set<number>;
  flushDoneLine: Map<number, number>;
  lastStats: ChildStats | undefined;
}

/**
 * True when `o` was acknowledged before some flush() started and that flush resolved before
 * output line `line`: then `o` was on disk (cache mode) by that line.
 */
export function flushedBefore(log: RoundLog, o: IssuedOp, line: number): boolean {
  if (!o.acked) return false;
  for (const [n, done] of log.flushDoneLine) {
    if (done < line && (log.flushStartLine.get(n) ?? Number.POSITIVE_INFINITY) > o.ackLine) return true;
  }
  return false;
}

/**
 * Line number before which every acknowledged op was covered by a completed flush() (the start
 * of the last flush that resolved); 0 when no flush completed.
 */
export function flushedWatermark(log: RoundLog): number {
  let wm = 0;
  for (const n of log.flushDone) wm = Math.max(wm, log.flushStartLine.get(n) ?? 0);
  return wm;
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
  /** The child calls flush() this often (0 = never). */
  flushEveryMs?: number;
  /** Never kill (after readiness) before at least one flush() completed... */
  killAfterFlush?: boolean;
  /** ...and then wait this many ms more when the kill had to wait for that flush. */
  killAfterFlushMs?: number;
}

function parseLine(line: string, log: RoundLog): void {
  const lineNo = ++log.lines;
  if (line.startsWith('FS ')) {
    log.flushStartLine.set(Number(line.slice(3)), lineNo);
    return;
  }
  if (line.startsWith('FD ')) {
    log.flushDone.add(Number(line.slice(3)));
    log.flushDoneLine.set(Number(line.slice(3)), lineNo);
    return;
  }
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
      issueLine: lineNo,
      ackLine: 0,
    });
  } else if (tag === 'A') {
    const [op] = rest.split(' ');
    const entry = log.ops.get(Number(op));
    if (entry === undefined) log.childErrors.push(`ack of unknown op: ${line}`);
    else {
      entry.acked = true;
      entry.ackLine = lineNo;
    }
  } else if (tag === 'E') {
    log.rejections.push(rest);
  } else if (tag === 'X') {
    log.childErrors.push(rest);
  } else if (tag === 'T') {
    const [compactions, flushes, drains, degraded, evictions] = rest.split(' ').map(Number);
    log.lastStats = {
      compactions: compactions ?? 0,
      flushes: flushes ?? 0,
      drains: drains ?? 0,
      degraded: degraded === 1,
      evictions: evictions ?? 0,
    };
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
    lines: 0,
    flushStartLine: new Map(),
    flushDone: new Set(),
    flushDoneLine: new Map(),
    lastStats: undefined,
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
      String(p.flushEveryMs ?? 0),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let pending = '';
  let onReady: (() => void) | undefined;
  let onStart: (() => void) | undefined;
  let onFlushDone: (() => void) | undefined;
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
      if (line.startsWith('FD ') && onFlushDone) onFlushDone();
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
  let deadline: NodeJS.Timeout | undefined;
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
      timer = setTimeout(() => {
        // With killAfterFlush, a round without a completed flush() would prove nothing about
        // cache mode: wait for the next one (bounded by the ready timeout).
        if (p.killAfterFlush && log.flushDone.size === 0) {
          deadline = setTimeout(kill, p.readyTimeoutMs);
          onFlushDone = () => {
            onFlushDone = undefined;
            clearTimeout(deadline);
            // Leave some time after the flush, so ops that rely on it (deletes of flushed data)
            // are issued and acknowledged before the kill.
            timer = setTimeout(kill, p.killAfterFlushMs ?? 0);
          };
        } else kill();
      }, p.killAfterReadyMs ?? 0);
    };
  }
  const [code, signal] = (await closed) as [number | null, NodeJS.Signals | null];
  clearTimeout(readyTimeout);
  clearTimeout(deadline);
  if (timer) clearTimeout(timer);
  log.exitCode = code;
  log.signal = signal;
  return log;
}

/**
 * Candidate states of one key after recovery, given its state at the start of the round.
 * `guaranteed` says which ops the mode promises to keep (durable: every acknowledged op; cache:
 * ops acknowledged before a flush() that completed).
 */
export function allowedStates(
  opsForKey: IssuedOp[],
  before: KeyState,
  guaranteed: (o: IssuedOp) => boolean = (o) => o.acked,
): KeyState[] {
  const ordered = [...opsForKey].sort((a, b) => a.op - b.op);
  let lastAcked = -1;
  for (let i = 0; i < ordered.length; i++) if (guaranteed(ordered[i]!)) lastAcked = i;
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
  /** Which acknowledged ops must survive (default: all of them, the durable-mode promise). */
  guaranteed?: (o: IssuedOp) => boolean;
  /** Cache mode with maxBytes: any key may also be absent (evicted). */
  mayEvict?: boolean;
  /** Every put version ever issued per key (all rounds), only to explain a failure. */
  versionsSeen?: Map<number, number[]>;
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
  // Hazard: in cache mode an unflushed delete is lost, so an older version may come back; the
  // rule above allows exactly that (the delete was not guaranteed), nothing older.
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
        : allowedStates(ops, before, p.guaranteed);
      // An evicting cache may drop any item; it may never bring back an older one.
      if (p.mayEvict) allowed.push(undefined);
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
        // Diagnose: which version (if any) the bytes are, and what happened to the key.
        const known = p.versionsSeen?.get(k) ?? [];
        const which = known.find((v) => makeValue(key, v, p.maxValueBytes).equals(got));
        const history = ops
          .sort((a, b) => a.op - b.op)
          .map((o) => `${o.kind}${o.version}${o.acked ? '(acked)' : ''}`)
          .join(' ');
        problems.push(
          `${key}: read ${got.length} bytes matching no allowed state (${allowed.map(describeState).join(', ')});` +
            ` the bytes are ${which === undefined ? 'no version ever written' : `v${which}`};` +
            ` state before the round: ${describeState(before)}; this round: ${history}`,
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
