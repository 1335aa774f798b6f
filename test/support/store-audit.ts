// Audits a stopped gateway's data directory straight through the engine: after recovery and a
// graceful stop, no write intent may remain, every chunk must belong to an object head or a
// multipart part record, and everything those reference must exist (no leak, no dangling data).
// Reads the store's documented key layout (apps/gateway/README.md, "Store layout").
import { join } from 'node:path';
import { BlobEngine } from '@blobcache/engine';

export type StoreAudit = {
  intents: string[];
  /** Data ids with chunks that nothing references, as `<id> (<n> chunks)`. */
  unreferenced: string[];
  /** Non-empty data referenced by a head or part record without any chunk. */
  missing: string[];
  /** Keys listed by keys() whose get() found nothing. */
  unreadable: string[];
};

type DataPart = { id: string; bytes: number };

/** The JSON part of a value (heads may carry inline bytes after a newline). */
function json<T>(value: Buffer): T {
  const nl = value.indexOf(0x0a);
  return JSON.parse(value.toString('utf8', 0, nl < 0 ? value.length : nl)) as T;
}

export async function auditDataDir(dataDir: string): Promise<StoreAudit> {
  const engine = await BlobEngine.open(join(dataDir, 'engine'), { durability: 'durable' });
  try {
    // Settle the WAL replay into the index first: the audit reads a quiescent store.
    await engine.flush();
    const keys: Buffer[] = [];
    for await (const { key } of engine.keys({})) keys.push(key);
    const unreadable: string[] = [];
    const stored = new Map<string, number>();
    const referenced = new Map<string, number>();
    const intents: string[] = [];
    for (const key of keys) {
      const k = key.toString('latin1');
      if (k.startsWith('d/')) {
        const id = k.split('/')[1] as string;
        stored.set(id, (stored.get(id) ?? 0) + 1);
      } else if (k.startsWith('g/')) intents.push(k);
      else if (k.startsWith('o/') || k.startsWith('p/')) {
        const value = await engine.get(key);
        if (!value) {
          unreadable.push(k);
          continue;
        }
        if (k.startsWith('p/')) {
          const part = json<{ dataId: string; bytes: number }>(value);
          referenced.set(part.dataId, part.bytes);
          continue;
        }
        const head = json<{ versionId: string; parts?: DataPart[]; partsRef?: boolean }>(value);
        let parts = head.parts ?? [];
        if (head.partsRef) {
          const list = await engine.get(`l/${head.versionId}`);
          parts = list ? (JSON.parse(list.toString('utf8')) as DataPart[]) : [];
        }
        for (const p of parts) referenced.set(p.id, p.bytes);
      }
    }
    return {
      intents,
      unreferenced: [...stored].filter(([id]) => !referenced.has(id)).map(([id, n]) => `${id} (${n} chunks)`),
      missing: [...referenced].filter(([id, bytes]) => bytes > 0 && !stored.has(id)).map(([id]) => id),
      unreadable,
    };
  } finally {
    await engine.close();
  }
}
