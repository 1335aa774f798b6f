// Whether the upstream answers, for `/_blobcache/ready` in upstream mode, and the outcome of every
// upstream call for metrics.
// Invariants:
// - An upstream answer that classifyUpstreamError does not call `unavailable` (a success, 304, 403,
//   404 …) means the upstream is reachable; a network error, a timeout, 5xx or throttling means
//   it is not.
// - The upstream counts as up only when its most recent call was answered within
//   READY_UPSTREAM_WINDOW_MS. Otherwise a probe decides, at most one at a time and at most once
//   per READY_PROBE_MIN_INTERVAL_MS while the latest outcome is a failure, so health checkers
//   polling a dead upstream do not add load to it; each probe gives up after READY_PROBE_TIMEOUT_MS.
import type { S3Client } from '@aws-sdk/client-s3';
import { Counter, type Registry } from 'prom-client';
import type { Readiness } from '../health.ts';
import { classifyUpstreamError } from '../upstream/upstream-errors.ts';

/** How long an answered upstream call vouches for the upstream without another probe. */
export const READY_UPSTREAM_WINDOW_MS = 10_000;
/** A readiness probe that has not been answered by then counts as a failure. */
export const READY_PROBE_TIMEOUT_MS = 2_000;
/** While the latest outcome is a failure, probes start at most this often. */
export const READY_PROBE_MIN_INTERVAL_MS = 1_000;

export type UpstreamOutcomeClass = 'answered' | 'failed';

export type LivenessOptions = {
  /** Names the upstream in reasons. */
  endpoint: string;
  /** One cheap upstream call; resolves or rejects like an S3Client send (aborted by `signal`). */
  probe: (signal: AbortSignal) => Promise<unknown>;
  windowMs?: number;
  probeTimeoutMs?: number;
  probeMinIntervalMs?: number;
  now?: () => number;
};

export class UpstreamLiveness {
  /** Upstream calls by outcome class, since start. */
  readonly calls: Record<UpstreamOutcomeClass, number> = { answered: 0, failed: 0 };
  #lastAnswerAt = Number.NEGATIVE_INFINITY;
  #lastFailureAt = Number.NEGATIVE_INFINITY;
  #lastFailure = '';
  #lastProbeAt = Number.NEGATIVE_INFINITY;
  #probing: Promise<void> | undefined;
  readonly #o: Required<Omit<LivenessOptions, 'now'>> & { now: () => number };

  constructor(o: LivenessOptions) {
    this.#o = {
      windowMs: READY_UPSTREAM_WINDOW_MS,
      probeTimeoutMs: READY_PROBE_TIMEOUT_MS,
      probeMinIntervalMs: READY_PROBE_MIN_INTERVAL_MS,
      // Monotonic: a wall-clock step must not stretch or shrink the window.
      now: () => performance.now(),
      ...o,
    };
  }

  answered(): void {
    this.calls.answered++;
    this.#lastAnswerAt = this.#o.now();
  }

  failed(detail: string): void {
    this.calls.failed++;
    this.#lastFailureAt = this.#o.now();
    this.#lastFailure = detail;
  }

  /** Records the outcome of one upstream call that threw `err` (a 4xx answer still counts as answered). */
  failedWith(err: unknown): void {
    const outcome = classifyUpstreamError(err);
    if (outcome.kind === 'unavailable') this.failed(outcome.detail);
    else this.answered();
  }

  /** Ready when the upstream answered recently; otherwise probes (bounded in time and rate). */
  async readiness(): Promise<Readiness> {
    const verdict = this.#verdict();
    if (verdict !== undefined) return verdict;
    this.#probing ??= this.#probe().finally(() => {
      this.#probing = undefined;
    });
    await this.#probing;
    return this.#verdict(true) ?? { ready: false, reason: `upstream ${this.#o.endpoint} did not answer` };
  }

  /** A verdict from what is known, or undefined when a probe should decide. */
  #verdict(afterProbe = false): Readiness | undefined {
    const now = this.#o.now();
    const latestAnswered = this.#lastAnswerAt >= this.#lastFailureAt;
    if (latestAnswered && now - this.#lastAnswerAt <= this.#o.windowMs) return { ready: true };
    const failing = !latestAnswered;
    if (failing && (afterProbe || now - this.#lastProbeAt < this.#o.probeMinIntervalMs)) {
      return { ready: false, reason: `upstream ${this.#o.endpoint} ${this.#lastFailure}` };
    }
    return undefined;
  }

  async #probe(): Promise<void> {
    this.#lastProbeAt = this.#o.now();
    const signal = AbortSignal.timeout(this.#o.probeTimeoutMs);
    try {
      await this.#o.probe(signal);
      // The client's own tracking (trackUpstreamCalls) normally records this; a probe that does
      // not go through a tracked client is recorded here.
      if (this.#lastAnswerAt < this.#lastProbeAt) this.answered();
    } catch (err) {
      // Something answered while the probe ran: the upstream is there.
      if (this.#lastAnswerAt >= this.#lastProbeAt) return;
      const timedOut = signal.aborted
        ? `timed out (no answer to a probe within ${this.#o.probeTimeoutMs} ms)`
        : undefined;
      if (this.#lastFailureAt >= this.#lastProbeAt) {
        // Already counted by the tracked client; an abort is better told as what it was.
        if (timedOut !== undefined) this.#lastFailure = timedOut;
      } else if (timedOut !== undefined) this.failed(timedOut);
      else this.failedWith(err);
    }
  }
}

/**
 * Records the outcome of every call made through `client` (after the SDK's retries) in `liveness`.
 * The middleware only looks at the outcome, never at bodies: a GetObject counts as answered when
 * its headers arrive.
 */
export function trackUpstreamCalls(client: S3Client, liveness: UpstreamLiveness): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        const out = await next(args);
        liveness.answered();
        return out;
      } catch (err) {
        liveness.failedWith(err);
        throw err;
      }
    },
    { step: 'initialize', name: 'blobcacheUpstreamLiveness', override: true },
  );
}

/** `blobcache_upstream_calls_total{outcome="answered"|"failed"}`, read at scrape time. */
export function registerUpstreamCallMetrics(registry: Registry, liveness: UpstreamLiveness): void {
  new Counter({
    name: 'blobcache_upstream_calls_total',
    help: 'upstream calls (after SDK retries) by outcome: answered (any non-5xx answer) or failed (network, timeout, 5xx, throttling)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ outcome: 'answered' }, liveness.calls.answered);
      this.inc({ outcome: 'failed' }, liveness.calls.failed);
    },
  });
}
