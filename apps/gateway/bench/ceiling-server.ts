// The ceilings for the HTTP cases. Usage: node ceiling-server.ts <body bytes> [node|hono]
// - node: node:http doing nothing but answering. GET/HEAD answer one preallocated buffer; PUT (and
//   anything else) reads the body to the end and answers 200 with an ETag, as the cheapest possible
//   object store would.
// - hono: the same answers through Hono + @hono/node-server's getRequestListener on node:http, the
//   stack the gateway is built on, so the framework's share of the gap is measured, not guessed.
// Prints {"port": N} once listening; SIGTERM closes it.
import http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';

const bodyBytes = Number(process.argv[2] ?? 4096);
if (!Number.isSafeInteger(bodyBytes) || bodyBytes < 0) throw new Error(`bad body size ${process.argv[2]}`);
const mode = process.argv[3] ?? 'node';
if (mode !== 'node' && mode !== 'hono') throw new Error(`unknown ceiling mode ${mode}`);
const body = Buffer.alloc(bodyBytes, 0x61);

function nodeHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bodyBytes });
    res.end(req.method === 'GET' ? body : undefined);
    return;
  }
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { etag: '"ceiling"', 'content-length': 0 });
    res.end();
  });
}

function honoHandler(): http.RequestListener {
  const app = new Hono();
  app.all('*', async (c) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') {
      return new Response(c.req.method === 'GET' ? body : null, {
        status: 200,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bodyBytes) },
      });
    }
    await c.req.arrayBuffer();
    return new Response(null, { status: 200, headers: { etag: '"ceiling"' } });
  });
  return getRequestListener(app.fetch);
}

const server = http.createServer(mode === 'hono' ? honoHandler() : nodeHandler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
  process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
