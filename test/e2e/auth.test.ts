import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { waitUntil } from '@sidecart/dev/processes';
import pg from 'pg';
import { e2eSidecar, startStack, type RunningStack } from './stack.ts';

// Whole stacks start here (a project's own testTimeout is ignored when several projects run).
jest.setTimeout(120_000);

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

describe('auth through the local stack (npm start)', () => {
  let stack: RunningStack;
  let stopped = false;
  const email = `e2e-${Date.now()}@example.test`;
  const password = 'correct-horse-battery-staple';

  const call = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
    fetch(`${stack.baseUrl}/api/auth${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, services: ['auth'] });
  });

  afterAll(async () => {
    if (!stopped) await stack?.stop();
  });

  test('runs two healthy auth replicas behind the ingress, each beside a dev sidecar', async () => {
    const replicas = stack.stack.services.auth!.replicas;

    expect(replicas.map((r) => [r.replica, r.state])).toEqual([
      ['auth-0', 'healthy'],
      ['auth-1', 'healthy'],
    ]);
    expect(stack.stack.postgres?.pid).toEqual(expect.any(Number));
    // Re-read: a pod whose sidecar lost its port to another process restarts on new ports.
    const sidecars = async () => {
      const current = stack.current().services.auth!.replicas;
      const health = await Promise.all(
        current.map((replica) =>
          fetch(`http://127.0.0.1:${replica.sidecarPort}/v1.0/healthz`).then(
            (response) => response.status,
            () => 0,
          ),
        ),
      );
      return { current, health };
    };
    // Healthy only once its app is reachable and subscriptions are read (docs/dapr-behaviour.md §5).
    expect(
      await waitUntil(
        async () => (await sidecars()).health.every((status) => status === 204),
        20_000,
      ),
    ).toBe(true);
    for (const replica of (await sidecars()).current) {
      expect(replica.sidecarPid).toEqual(expect.any(Number));
      // Everything but the health checks needs the stack's DAPR_API_TOKEN, as in the cluster.
      const metadata = await fetch(`http://127.0.0.1:${replica.sidecarPort}/v1.0/metadata`);
      expect(metadata.status).toBe(401);
    }
  });

  test('register → login → me → refresh → reuse rejected → logout', async () => {
    const registered = await call('/register', { body: { email, password, name: 'E2E' } });
    expect(registered.status).toBe(201);

    const login = await call('/login', { body: { email, password } });
    expect(login.status).toBe(200);
    const first = (await login.json()) as Tokens;

    const me = await call('/me', { token: first.accessToken });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ email, roles: ['customer'] });

    const refreshed = await call('/refresh', { body: { refreshToken: first.refreshToken } });
    expect(refreshed.status).toBe(200);
    const second = (await refreshed.json()) as Tokens;
    expect(second.refreshToken).not.toBe(first.refreshToken);

    const reused = await call('/refresh', { body: { refreshToken: first.refreshToken } });
    expect(reused.status).toBe(401);
    expect(await reused.json()).toMatchObject({ code: 'refresh-token-reused' });
    // Reuse revoked the whole family, so the second token is dead too.
    expect((await call('/refresh', { body: { refreshToken: second.refreshToken } })).status).toBe(
      401,
    );

    const again = (await (await call('/login', { body: { email, password } })).json()) as Tokens;
    expect((await call('/logout', { body: { refreshToken: again.refreshToken } })).status).toBe(
      204,
    );
    expect((await call('/refresh', { body: { refreshToken: again.refreshToken } })).status).toBe(
      401,
    );
  });

  /** CloudEvents with this id on a topic: in the dev broker's tables, or daprd's Redis stream. */
  async function storedEvents(dapr: pg.Client, topic: string, id: string): Promise<number> {
    if (e2eSidecar === 'daprd') {
      const [host, port] = stack.current().redis!.address.split(':') as [string, string];
      const entries = JSON.parse(
        execFileSync('redis-cli', [
          '-h',
          host,
          '-p',
          port,
          '--json',
          'XRANGE',
          topic,
          '-',
          '+',
        ]).toString(),
      ) as [string, string[]][];
      return entries.filter(([, fields]) =>
        fields.some((field) => field.startsWith('{') && JSON.parse(field).id === id),
      ).length;
    }
    const { rows } = await dapr.query(
      'select count(*)::int as n from pubsub_messages m join pubsub_streams s on s.id = m.stream_id ' +
        "where s.topic = $1 and convert_from(m.data, 'utf8')::jsonb->>'id' = $2",
      [topic, id],
    );
    return rows[0].n;
  }

  test('a registration is published as user-registered through the outbox and the sidecar', async () => {
    const postgres = stack.stack.postgres!;
    const database = (name: string) =>
      new pg.Client({
        connectionString: `postgres://postgres:sidecart-local-dev@127.0.0.1:${postgres.port}/${name}`,
      });
    const auth = database('auth');
    const dapr = database('dapr');
    await Promise.all([auth.connect(), dapr.connect()]);
    try {
      const published = async () => {
        const { rows } = await auth.query(
          "select id, published_at from outbox_events where topic = 'user-registered' and data->>'email' = $1",
          [email],
        );
        return rows;
      };
      expect(
        await waitUntil(async () => (await published())[0]?.published_at != null, 20_000),
      ).toBe(true);
      const [event] = await published();
      // The broker holds the CloudEvent under the outbox row's id: redeliveries keep it.
      expect(await storedEvents(dapr, 'user-registered', event.id)).toBe(1);
    } finally {
      await Promise.all([auth.end(), dapr.end()]);
    }
  });

  test('answers problem+json 404 for a path no service owns', async () => {
    const response = await fetch(`${stack.baseUrl}/api/nothing-here`);

    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });

  test('hostile encodings and methods get 4xx through the ingress, and no replica logs an error', async () => {
    const garbage = (encoding: string) =>
      fetch(`${stack.baseUrl}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: 'not compressed at all',
      });
    const trace = await new Promise<number | undefined>((resolve, reject) => {
      request(`${stack.baseUrl}/api/auth/login`, { method: 'TRACE' }, (response) => {
        response.resume();
        resolve(response.statusCode);
      })
        .on('error', reject)
        .end();
    });

    const statuses = [(await garbage('gzip')).status, (await garbage('br')).status, trace];

    expect(statuses).toEqual([400, 400, 405]);
    const logsDir = path.join(stack.dataDir, 'logs');
    const logs = readdirSync(logsDir).map((file) => readFileSync(path.join(logsDir, file), 'utf8'));
    expect(logs.join('\n')).not.toMatch(/"level":(50|60)/);
  });

  test('Ctrl-C stops everything: no replica and no postgres left alive', async () => {
    const result = await stack.stop();
    stopped = true;

    expect(result).toEqual({ exitCode: 0, alivePids: [] });
  });
});
