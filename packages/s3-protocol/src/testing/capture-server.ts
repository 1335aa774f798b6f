// Test support (not exported): a loopback HTTP server that records each request exactly as it
// arrived (raw URL, headers, body bytes) and answers with a canned response, so tests can feed
// real client traffic to the verifiers.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapturedRequest {
  method: string;
  rawUrl: string;
  rawPath: string;
  rawQuery: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface CaptureServer {
  readonly endpoint: string;
  readonly port: number;
  readonly requests: CapturedRequest[];
  close(): Promise<void>;
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** Start a capture server on 127.0.0.1; `respond` picks the reply (default 200, empty body). */
export async function startCaptureServer(
  respond: (req: CapturedRequest) => {
    status: number;
    headers?: Record<string, string>;
    body?: string;
  } = () => ({
    status: 200,
  }),
): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawUrl = req.url ?? '/';
      const q = rawUrl.indexOf('?');
      const captured: CapturedRequest = {
        method: req.method ?? 'GET',
        rawUrl,
        rawPath: q === -1 ? rawUrl : rawUrl.slice(0, q),
        rawQuery: q === -1 ? '' : rawUrl.slice(q + 1),
        headers: flattenHeaders(req),
        body: Buffer.concat(chunks),
      };
      requests.push(captured);
      const reply = respond(captured);
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? '');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
