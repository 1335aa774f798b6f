// Progress reporting for long steps (opening a large directory: WAL replay, segment loading, key
// index rebuild; the gateway's crash recovery). Invariant: a step that finishes within one
// interval logs nothing at info (its start and end lines are debug), so a quick start stays quiet;
// a step that runs longer logs one info line per interval with done/total counts, bytes, rate and
// an ETA, and an info end line with totals and duration.
// Hazard: the hot loops that call advance() may run millions of times (bloom rebuild, one call per
// item); advance() only reads the clock every `checkEvery` calls, so its cost is a decrement.

import assert from 'node:assert';
import type { Logger } from 'pino';

/** Default time between two progress lines of one step. */
export const DEFAULT_PROGRESS_LOG_INTERVAL_MS = 2000;

export interface ProgressOptions {
  /** What is being done, as it appears in every line (`${task} progress`). */
  readonly task: string;
  /** Name of the counted unit in the lines (`segments`, `files`, `items`). */
  readonly unit: string;
  /** Units to do, if known (enables the ETA). */
  readonly totalItems?: number | undefined;
  /** Bytes to process, if known (the ETA then follows bytes rather than units). */
  readonly totalBytes?: number | undefined;
  /** Minimum time between progress lines; 0 = a line at every clock check (tests, debugging). */
  readonly intervalMs: number;
  /** Read the clock only every this many advance() calls (default 1: items are large). */
  readonly checkEvery?: number;
  /** Clock in milliseconds (injectable for tests). */
  readonly now?: () => number;
}

export interface ProgressSummary {
  readonly task: string;
  readonly unit: string;
  readonly done: number;
  readonly total: number | undefined;
  readonly bytes: number;
  readonly totalBytes: number | undefined;
  readonly elapsedMs: number;
  /** Units per second since the start. */
  readonly perSecond: number;
  /** Bytes per second since the start. */
  readonly bytesPerSecond: number;
  /** Seconds left at the current rate; undefined when no total is known or nothing is done yet. */
  readonly etaSeconds: number | undefined;
}

export class Progress {
  readonly #log: Logger;
  readonly #o: ProgressOptions;
  readonly #now: () => number;
  readonly #checkEvery: number;
  readonly #startMs: number;
  #lastLogMs: number;
  #countdown: number;
  #done = 0;
  #bytes = 0;
  #lines = 0;
  #finished = false;

  constructor(logger: Logger, options: ProgressOptions) {
    assert(options.intervalMs >= 0, 'intervalMs must be >= 0');
    this.#log = logger;
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#checkEvery = Math.max(1, Math.floor(options.checkEvery ?? 1));
    this.#countdown = this.#checkEvery;
    this.#startMs = this.#now();
    this.#lastLogMs = this.#startMs;
    logger.debug(this.#totals(), `${options.task} started`);
  }

  /** Records `items` units (and `bytes`) done; logs a progress line when an interval has passed. */
  advance(items = 1, bytes = 0): void {
    this.#done += items;
    this.#bytes += bytes;
    if (--this.#countdown > 0) return;
    this.#countdown = this.#checkEvery;
    const t = this.#now();
    if (this.#o.intervalMs > 0 && t - this.#lastLogMs < this.#o.intervalMs) return;
    this.#lastLogMs = t;
    if (this.#lines === 0) this.#log.info(this.#totals(), `${this.#o.task} is taking a while`);
    this.#lines++;
    const s = this.summary(t);
    this.#log.info(
      {
        done: s.done,
        total: s.total,
        unit: s.unit,
        bytes: s.bytes,
        totalBytes: s.totalBytes,
        perSecond: round(s.perSecond),
        bytesPerSecond: Math.round(s.bytesPerSecond),
        etaSeconds: s.etaSeconds === undefined ? undefined : round(s.etaSeconds),
        elapsedMs: Math.round(s.elapsedMs),
      },
      `${this.#o.task} progress`,
    );
  }

  /** Logs the end line (info if the step was slow enough to log progress, debug otherwise). */
  finish(extra: Record<string, unknown> = {}): ProgressSummary {
    const s = this.summary(this.#now());
    if (this.#finished) return s;
    this.#finished = true;
    const fields = {
      done: s.done,
      unit: s.unit,
      bytes: s.bytes,
      durationMs: Math.round(s.elapsedMs),
      perSecond: round(s.perSecond),
      ...extra,
    };
    if (this.#lines > 0) this.#log.info(fields, `${this.#o.task} finished`);
    else this.#log.debug(fields, `${this.#o.task} finished`);
    return s;
  }

  /** Progress lines logged so far. */
  get lines(): number {
    return this.#lines;
  }

  summary(nowMs: number = this.#now()): ProgressSummary {
    const elapsedMs = Math.max(0, nowMs - this.#startMs);
    const secs = elapsedMs / 1000;
    const perSecond = secs > 0 ? this.#done / secs : 0;
    const bytesPerSecond = secs > 0 ? this.#bytes / secs : 0;
    const { totalItems, totalBytes } = this.#o;
    let etaSeconds: number | undefined;
    // Bytes predict better than units when units differ in size (segments, WAL files).
    if (totalBytes !== undefined && totalBytes > 0 && this.#bytes > 0) {
      etaSeconds = (Math.max(0, totalBytes - this.#bytes) / this.#bytes) * secs;
    } else if (totalItems !== undefined && this.#done > 0) {
      etaSeconds = (Math.max(0, totalItems - this.#done) / this.#done) * secs;
    }
    return {
      task: this.#o.task,
      unit: this.#o.unit,
      done: this.#done,
      total: totalItems,
      bytes: this.#bytes,
      totalBytes,
      elapsedMs,
      perSecond,
      bytesPerSecond,
      etaSeconds,
    };
  }

  #totals(): Record<string, unknown> {
    return { total: this.#o.totalItems, unit: this.#o.unit, totalBytes: this.#o.totalBytes };
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
