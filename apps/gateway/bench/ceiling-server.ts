// The ceiling for the HTTP cases: node:http doing nothing but answering. GET/HEAD answer one
// preallocated buffer; PUT (and anything else) reads the body to the end and answers 200 with an
// ETag, as the cheapest possible object store would. Usage: node ceiling-server.ts <body bytes>
// Prints {"port": N} once listening; SIGTERM closes it.
import http from 'node:http';

const bodyBytes = Number(process.argv[2] ?? 4096);
if (!Number.isSafeInteger(bodyBytes) || bodyBytes < 0) throw new Error(`bad body size ${process.argv[2]}`);
const body = Buffer.alloc(bodyBytes, 0x61);

const server = http.createServer((req, res) => {
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
});
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
