import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { startIngress, type Ingress, type IngressLimits } from '../src/ingress/ingress.ts';
import { freePort } from '../src/stack/ports.ts';
import { waitUntil } from '../src/stack/processes.ts';
import type { Target } from '../src/replicas/supervisor.ts';
import { fixtureApp } from './harness.ts';
import { rawExchange } from './raw-http.ts';

const routes = [{ prefix: '/api/echo', service: 'echo' }];

interface Echoed {
  replica: string;
  url: string;
  headers: Record<string, string>;
}

/** The fixture app as a real process, so that it can be SIGSTOPped. */
async function spawnReplica(replica: string): Promise<{ child: ChildProcess; target: Target }> {
  const port = await freePort();
  const child = spawn(process.execPath, [fixtureApp], {
    env: { ...process.env, PORT: String(port), SERVICE_REPLICA: replica },
    stdio: 'ignore',
  });
  const up = await waitUntil(
    () =>
      fetch(`http://127.0.0.1:${port}/readyz`).then(
        (response) => response.ok,
        () => false,
      ),
    15_000,
  );
  if (!up) throw new Error(`${replica} did not start`);
  return { child, target: { replica, port } };
}

describe('ingress in front of a hung replica', () => {
  const upstreamTimeoutMs = 1000;
  // Generous: an answer within it is bounded; none at all is the bug.
  const answerWithinMs = 2 * upstreamTimeoutMs + 4000;
  let hung: { child: ChildProcess; target: Target };
  let live: { child: ChildProcess; target: Target };
  let ingress: Ingress | undefined;
  const unreachable: string[] = [];

  beforeAll(async () => {
    [hung, live] = await Promise.all([spawnReplica('echo-0'), spawnReplica('echo-1')]);
    process.kill(hung.child.pid!, 'SIGSTOP');
  });
  afterAll(() => {
    for (const { child } of [hung, live]) {
      child.kill('SIGKILL');
      child.kill('SIGCONT');
    }
  });
  afterEach(async () => {
    ingress?.closeAllConnections();
    await ingress?.close();
    unreachable.length = 0;
  });

  // A fresh ingress per test: its round-robin turn starts at the hung replica.
  const start = async () => {
    ingress = await startIngress({
      port: 0,
      routes,
      targets: () => [hung.target, live.target],
      onUnreachable: (replica) => unreachable.push(replica),
      limits: { upstreamTimeoutMs },
    });
    return ingress.url;
  };

  const send = async (url: string, init: RequestInit = {}) => {
    try {
      const response = await fetch(`${url}/api/echo/echo`, {
        ...init,
        signal: AbortSignal.timeout(answerWithinMs),
      });
      const body = (await response.json()) as { replica?: string; code?: string };
      return `${response.status} ${body.replica ?? body.code}`;
    } catch {
      return 'no answer';
    }
  };

  test('answers idempotent requests from the other replica', async () => {
    const url = await start();

    const outcomes = await Promise.all(Array.from({ length: 10 }, () => send(url)));

    expect(outcomes).toEqual(Array.from({ length: 10 }, () => '200 echo-1'));
    expect(unreachable).toContain('echo-0');
  });

  test('answers 504 problem+json to the non-idempotent requests it sent to the hung replica', async () => {
    const url = await start();

    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => send(url, { method: 'POST', body: '{}' })),
    );

    // Round robin: exactly every other request went to the hung replica first.
    expect(outcomes.filter((outcome) => outcome === '504 upstream-timeout')).toHaveLength(5);
    expect(outcomes.filter((outcome) => outcome === '200 echo-1')).toHaveLength(5);
  });

  test('retries a POST that carries an Idempotency-Key', async () => {
    const url = await start();

    const outcomes = await Promise.all(
      Array.from({ length: 4 }, (_, index) =>
        send(url, { method: 'POST', body: '{}', headers: { 'idempotency-key': `key-${index}` } }),
      ),
    );

    expect(outcomes).toEqual(['200 echo-1', '200 echo-1', '200 echo-1', '200 echo-1']);
  });
});

describe('ingress HTTP details and client limits', () => {
  let upstream: http.Server;
  let upstreamPort: number;
  let hits = 0;
  let ingress: Ingress | undefined;

  beforeAll(async () => {
    upstream = http.createServer(async (req, res) => {
      hits++;
      for await (const chunk of req) void chunk;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ replica: 'live', url: req.url, headers: req.headers }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as { port: number }).port;
  });
  afterAll(() => new Promise((resolve) => upstream.close(resolve)));
  afterEach(async () => {
    ingress?.closeAllConnections();
    await ingress?.close();
    hits = 0;
  });

  const start = async (limits: Partial<IngressLimits> = {}) => {
    ingress = await startIngress({
      port: 0,
      routes,
      targets: () => [{ replica: 'live', port: upstreamPort }],
      limits,
    });
    return ingress.port;
  };

  test('accepts an absolute-form request target and uses its authority as Host (RFC 9112 §3.2.2)', async () => {
    const port = await start();

    const { response } = await rawExchange(
      port,
      `GET http://shop.example:8080/api/echo/echo?x=1 HTTP/1.1\r\nHost: other.example\r\n\r\n`,
    );

    expect(response?.status).toBe(200);
    const echoed = JSON.parse(response!.body) as Echoed;
    expect(echoed.url).toBe('/api/echo/echo?x=1');
    expect(echoed.headers.host).toBe('shop.example:8080');
    expect(echoed.headers['x-forwarded-host']).toBe('shop.example:8080');
  });

  test('refuses a request with two Host headers with 400, forwarding nothing', async () => {
    const port = await start();

    const { response } = await rawExchange(
      port,
      `GET /api/echo/echo HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`,
    );

    expect(response?.status).toBe(400);
    expect(response?.headers['content-type']).toBe('application/problem+json');
    expect(hits).toBe(0);
  });

  test('answers 505 to an HTTP/2.0 request line, forwarding nothing', async () => {
    const port = await start();

    const { response } = await rawExchange(
      port,
      `GET /api/echo/echo HTTP/2.0\r\nHost: localhost\r\n\r\n`,
    );

    expect(response?.status).toBe(505);
    expect(JSON.parse(response!.body)).toMatchObject({ code: 'http-version-not-supported' });
    expect(hits).toBe(0);
  });

  test('announces no Keep-Alive timeout on a response that closes the connection', async () => {
    const port = await start();

    const closing = await rawExchange(
      port,
      `GET /api/echo/echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
    );
    const kept = await rawExchange(port, `GET /api/echo/echo HTTP/1.1\r\nHost: localhost\r\n\r\n`);

    expect(closing.response?.status).toBe(200);
    expect(closing.response?.headers.connection).toBe('close');
    expect(closing.response?.headers['keep-alive']).toBeUndefined();
    expect(kept.response?.headers['keep-alive']).toBe('timeout=5');
  });

  test('answers 408 problem+json and closes when the request head never completes', async () => {
    const port = await start({ headersTimeoutMs: 500, requestTimeoutMs: 1000 });

    const exchange = await rawExchange(port, `GET /api/echo/echo HTTP/1.1\r\nHost: local`, {
      untilClosed: true,
    });

    expect(exchange.closed).toBe(true);
    expect(exchange.response?.status).toBe(408);
    expect(exchange.response?.headers['content-type']).toBe('application/problem+json');
    expect(hits).toBe(0);
  });

  test('answers 408 and closes when a body stops arriving', async () => {
    const port = await start({ headersTimeoutMs: 500, requestTimeoutMs: 1000 });

    const exchange = await rawExchange(
      port,
      `POST /api/echo/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{"a":`,
      { untilClosed: true },
    );

    expect(exchange.closed).toBe(true);
    expect(exchange.response?.status).toBe(408);
    expect(hits).toBe(0);
  });

  test('drops connections beyond the cap, and takes new ones once others close', async () => {
    const port = await start({ maxConnections: 3 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
    const get = () =>
      new Promise<number>((resolve, reject) =>
        http
          .get({ port, host: '127.0.0.1', path: '/api/echo/echo', agent }, (response) => {
            response.resume();
            resolve(response.statusCode!);
          })
          .on('error', reject),
      );
    // Three kept-alive connections fill the cap.
    expect(await Promise.all([get(), get(), get()])).toEqual([200, 200, 200]);

    const beyond = await rawExchange(port, `GET /api/echo/echo HTTP/1.1\r\nHost: x\r\n\r\n`);
    const forwardedBeyondCap = hits - 3;
    agent.destroy();
    const afterwards = await waitUntil(
      async () =>
        (await rawExchange(port, `GET /api/echo/echo HTTP/1.1\r\nHost: x\r\n\r\n`)).response
          ?.status === 200,
      5000,
    );

    expect(beyond).toEqual({ response: undefined, closed: true });
    expect(forwardedBeyondCap).toBe(0);
    expect(afterwards).toBe(true);
  });
});
