import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { startIngress, type Ingress } from '../src/ingress/ingress.ts';
import { freePort } from '../src/stack/ports.ts';
import type { Target } from '../src/replicas/supervisor.ts';
import { startFixtureStack, type FixtureStack } from './harness.ts';

interface Upstream {
  port: number;
  close(): Promise<void>;
}

/** An in-process app that echoes what it received, named so a test can tell who answered. */
async function startUpstream(name: string): Promise<Upstream> {
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ replica: name, url: req.url, headers: req.headers, body }));
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('ingress with fixed targets', () => {
  let upstream: Upstream;
  let ingress: Ingress | undefined;
  let targets: Target[] = [];
  const unreachable: string[] = [];

  beforeAll(async () => {
    upstream = await startUpstream('live');
  });
  afterAll(() => upstream.close());
  afterEach(async () => {
    await ingress?.close();
    unreachable.length = 0;
  });

  const start = async () => {
    ingress = await startIngress({
      port: 0,
      routes: [{ prefix: '/api/auth', service: 'auth' }],
      targets: () => targets,
      onUnreachable: (replica) => unreachable.push(replica),
    });
    return ingress.url;
  };

  test('answers 404 problem+json for paths outside every prefix', async () => {
    const url = await start();
    targets = [{ replica: 'live', port: upstream.port }];

    for (const path of [
      '/',
      '/api',
      '/api/authx',
      '/api/auth/../products',
      '/internal/reservations',
    ]) {
      const response = await fetch(`${url}${path}`);

      expect([path, response.status]).toEqual([path, 404]);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(await response.json()).toMatchObject({
        type: 'urn:sidecart:problem:not-found',
        title: 'Not Found',
        status: 404,
        code: 'not-found',
      });
    }
  });

  test('forwards the prefix itself and paths below it unchanged, with x-forwarded headers set afresh', async () => {
    const url = await start();
    targets = [{ replica: 'live', port: upstream.port }];

    const root = await (await fetch(`${url}/api/auth`)).json();
    const below = await fetch(`${url}/api/auth/login?next=%2Fme`, {
      headers: { 'x-forwarded-for': '6.6.6.6' },
    });
    const echoed = (await below.json()) as { url: string; headers: Record<string, string> };

    expect(root).toMatchObject({ replica: 'live', url: '/api/auth' });
    expect(below.headers.get('keep-alive')).toBe('timeout=5');
    expect(echoed.url).toBe('/api/auth/login?next=%2Fme');
    expect(echoed.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(echoed.headers['x-forwarded-proto']).toBe('http');
    expect(echoed.headers['x-forwarded-host']).toBe(new URL(url).host);
  });

  test('answers 503 problem+json with Retry-After when no replica is healthy', async () => {
    const url = await start();
    targets = [];

    const response = await fetch(`${url}/api/auth/login`, { method: 'POST', body: '{}' });

    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toMatchObject({ status: 503, code: 'no-healthy-replica' });
  });

  test('retries a refused connection on another replica with the body intact', async () => {
    const url = await start();
    targets = [
      { replica: 'gone', port: await freePort() },
      { replica: 'live', port: upstream.port },
    ];
    const body = JSON.stringify({ email: 'a@example.test', padding: 'x'.repeat(200_000) });

    const responses = await Promise.all(
      [1, 2, 3, 4].map(() =>
        fetch(`${url}/api/auth/register`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        }),
      ),
    );
    const echoed = (await Promise.all(responses.map((r) => r.json()))) as Array<{
      replica: string;
      body: string;
    }>;

    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(echoed.map((e) => e.replica)).toEqual(['live', 'live', 'live', 'live']);
    expect(echoed.every((e) => e.body === body)).toBe(true);
    expect(unreachable.length).toBeGreaterThanOrEqual(2);
    expect(new Set(unreachable)).toEqual(new Set(['gone']));
  });

  test('replays a request whose kept-alive socket broke only when it may be repeated', async () => {
    const seen: string[] = [];
    const flaky = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      // Dies with the request in hand, as a replica killed mid-request does.
      if (req.url?.endsWith('/crash')) return req.socket.destroy();
      res.end('warm');
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const url = await start();
    targets = [{ replica: 'flaky', port: (flaky.address() as { port: number }).port }];
    const crash = (headers: Record<string, string>) =>
      fetch(`${url}/api/auth/crash`, { method: 'POST', body: '{}', headers });

    await fetch(`${url}/api/auth/warm`);
    const plain = await crash({});
    await fetch(`${url}/api/auth/warm`);
    const keyed = await crash({ 'idempotency-key': 'k-1' });
    flaky.close();

    expect(plain.status).toBe(502);
    expect(await plain.json()).toMatchObject({ code: 'bad-gateway' });
    // Replayed: the only replica was tried, so nobody is left to take it.
    expect(keyed.status).toBe(503);
    expect(unreachable).toEqual(['flaky']);
    expect(seen.filter((line) => line.endsWith('/crash'))).toHaveLength(2);
  });

  test('answers 503 when every replica refuses', async () => {
    const url = await start();
    targets = [{ replica: 'gone', port: await freePort() }];

    const response = await fetch(`${url}/api/auth/me`);

    expect(response.status).toBe(503);
    expect(unreachable).toEqual(['gone']);
  });

  test('answers 413 to a body over the cap without forwarding it', async () => {
    const url = await start();
    targets = [{ replica: 'live', port: upstream.port }];

    const response = await fetch(`${url}/api/auth/register`, {
      method: 'POST',
      body: 'x'.repeat(1024 * 1024 + 1),
    });

    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ status: 413, code: 'payload-too-large' });
  });
});

describe('ingress in front of supervised replicas', () => {
  let stack: FixtureStack;

  beforeAll(async () => {
    stack = await startFixtureStack(2);
  });
  afterAll(() => stack.stop());

  const countAnswers = async (requests: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < requests; i++) {
      const response = await fetch(`${stack.ingress.url}/api/echo/echo`);
      expect(response.status).toBe(200);
      const { replica } = (await response.json()) as { replica: string };
      counts[replica] = (counts[replica] ?? 0) + 1;
    }
    return counts;
  };

  test('spreads requests evenly over healthy replicas', async () => {
    expect(await countAnswers(20)).toEqual({ 'echo-0': 10, 'echo-1': 10 });
  });

  test('sends nothing to a replica whose /readyz fails', async () => {
    const { appPort } = stack.status('echo-1');
    await fetch(`http://127.0.0.1:${appPort}/api/echo/unready`);
    await stack.waitFor('echo-1', (s) => s.state === 'unhealthy');

    expect(await countAnswers(10)).toEqual({ 'echo-0': 10 });

    await fetch(`http://127.0.0.1:${appPort}/api/echo/ready`);
    await stack.waitFor('echo-1', (s) => s.state === 'healthy');
  });

  test('keeps answering while a replica is killed under traffic', async () => {
    await countAnswers(4);
    const victim = stack.status('echo-0');

    process.kill(victim.pid!, 'SIGKILL');
    const counts = await countAnswers(20);

    expect(counts['echo-1']).toBeGreaterThanOrEqual(10);
    expect((counts['echo-0'] ?? 0) + counts['echo-1']!).toBe(20);
    const back = await stack.waitFor(
      'echo-0',
      (s) => s.state === 'healthy' && s.pid !== victim.pid,
    );
    expect(back.restarts).toBe(1);
  });
});
