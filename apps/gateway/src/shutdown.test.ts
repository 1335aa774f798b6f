// The drain on a plain node:http server whose kept-alive connections would otherwise idle for
// ten minutes: if a drained connection were left to its keep-alive timeout, `done` would not
// resolve within the test's timeout.
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { trackInFlight } from './shutdown.ts';

const logger = pino({ level: 'silent' });

type Held = { res: ServerResponse; req: IncomingMessage };

/** A server whose handlers park every request until the test answers it. */
async function parkingServer(): Promise<{
  server: Server;
  port: number;
  held: Held[];
  arrived: () => Promise<Held>;
}> {
  const server = createServer({ keepAliveTimeout: 600_000 });
  const held: Held[] = [];
  const waiters: ((h: Held) => void)[] = [];
  const park = (req: IncomingMessage, res: ServerResponse): void => {
    const h = { req, res };
    const waiter = waiters.shift();
    if (waiter) waiter(h);
    else held.push(h);
  };
  server.on('request', park);
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    res.writeContinue();
    park(req, res);
  });
  server.on('checkExpectation', park);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const arrived = (): Promise<Held> => {
    const next = held.length > 0 ? held.shift() : undefined;
    return next ? Promise.resolve(next) : new Promise((resolve) => waiters.push(resolve));
  };
  return { server, port: (server.address() as AddressInfo).port, held, arrived };
}

function get(
  port: number,
  agent: Agent,
): Promise<{ status: number; connection: string | undefined; body: Promise<string> }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, agent, path: '/' }, (res) => {
      const body = new Promise<string>((done, fail) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => done(text));
        res.on('error', fail);
      });
      resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body });
    })
      .on('error', reject)
      .end();
  });
}

describe('trackInFlight / drain', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.closeAllConnections();
  });

  it('lets in-flight requests finish on kept-alive connections, then closes them at once', async () => {
    const { server, port, arrived } = await parkingServer();
    servers.push(server);
    const inFlight = trackInFlight(server, logger);
    const agent = new Agent({ keepAlive: true });
    // one answered before the drain (its connection idles in keep-alive), two still in flight
    const first = get(port, agent);
    (await arrived()).res.end('early');
    expect(await (await first).body).toBe('early');
    const quiet = get(port, agent);
    const streaming = get(port, agent);
    const a = await arrived();
    const b = await arrived();
    b.res.writeHead(200, { 'content-type': 'text/plain' });
    b.res.write('part one, ');
    await streaming; // its headers were sent before the drain
    expect(inFlight.count).toBe(2);

    const drain = inFlight.drain(600_000);
    // no new connection is accepted
    await expect(get(port, new Agent())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    a.res.end('quiet');
    b.res.end('part two');
    const q = await quiet;
    expect(q.connection).toBe('close'); // headers not sent at the drain: they said close
    expect(await q.body).toBe('quiet');
    expect(await (await streaming).body).toBe('part one, part two');
    expect(await drain.done).toEqual({ finished: 2, cut: 0 });
    expect(inFlight.drain(0)).toBe(drain);
    agent.destroy();
  });

  it('cuts what is still in flight when asked to stop now', async () => {
    const { server, port, arrived } = await parkingServer();
    servers.push(server);
    const inFlight = trackInFlight(server, logger);
    const agent = new Agent({ keepAlive: true });
    const pending = get(port, agent);
    await arrived();
    const drain = inFlight.drain(600_000);
    drain.cutNow();
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await drain.done).toEqual({ finished: 0, cut: 1 });
    agent.destroy();
  });

  it('refuses to track a server without its own handlers (node would stop answering Expect)', () => {
    const bare = createServer();
    expect(() => trackInFlight(bare, logger)).toThrow(/no 'request' handler/);
  });
});
