// Test support: scrapes a gateway's `/_blobcache/metrics` and reads samples out of the Prometheus
// text format. Used only by *.test.ts files.

/** Samples by series (`name` or `name{a="x",b="y"}`, labels in exposition order). */
export type Samples = Map<string, number>;

export type Scrape = { status: number; contentType: string | null; text: string; samples: Samples };

/** Parses sample lines (`series value`); comments and blank lines are skipped. */
export function parseSamples(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    if (at <= 0) throw new Error(`not a sample line: ${line}`);
    const value = line.slice(at + 1);
    out.set(line.slice(0, at), value === '+Inf' ? Number.POSITIVE_INFINITY : Number(value));
  }
  return out;
}

export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(`${url}/_blobcache/metrics`);
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    text,
    samples: parseSamples(text),
  };
}

/** A sample's value, or 0 when the series is absent (a counter never incremented). */
export function sample(s: Samples, series: string): number {
  return s.get(series) ?? 0;
}

/**
 * Scrapes until `done` holds: a request's metrics are recorded when the server finishes writing
 * its response, which the client may see a moment earlier. Bounded: throws rather than hangs.
 */
export async function scrapeUntil(url: string, done: (s: Samples) => boolean, what: string): Promise<Scrape> {
  let last: Scrape | undefined;
  for (let i = 0; i < 200; i++) {
    last = await scrape(url);
    if (done(last.samples)) return last;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`metrics never showed ${what}:\n${last?.text ?? ''}`);
}
