import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { migrate, OutboxEvent } from '@sidecart/chassis';
import { createTestDatabase, silentLogger } from '@sidecart/chassis/testing';
import { connectDatabase } from '../src/db.ts';
import { eventually } from '@sidecart/chassis/testing';
import { call, generatePrivateKeyPem, newUser } from './support.ts';

interface Publish {
  path: string;
  query: Record<string, string>;
  body: unknown;
}

/** Stands in for the sidecar at the edge: readiness probe answered, publishes recorded (204). */
async function startSidecarStandIn() {
  const publishes: Publish[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url ?? '/', 'http://sidecar');
    if (url.pathname === '/v1.0/metadata') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"auth"}');
      return;
    }
    publishes.push({
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: JSON.parse(body),
    });
    res.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, publishes };
}

let sidecar: Awaited<ReturnType<typeof startSidecarStandIn>>;
let auth: ChildProcess;
let url: string;
let databaseUrl: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase('auth_main');
  const orm = await connectDatabase(databaseUrl, silentLogger());
  await migrate(orm);
  await orm.close();
  sidecar = await startSidecarStandIn();
  auth = spawn(process.execPath, [fileURLToPath(new URL('../src/main.ts', import.meta.url))], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      AUTH_PRIVATE_KEY: generatePrivateKeyPem(),
      HOST: '127.0.0.1',
      PORT: '0',
      DAPR_HTTP_PORT: String(sidecar.port),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  auth.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const port = await eventually(
    'auth to listen',
    () => /"port":(\d+),.*"msg":"listening"/.exec(output)?.[1],
    10_000,
  );
  url = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  if (auth.exitCode === null) auth.kill('SIGKILL');
  await new Promise<void>((resolve) => (sidecar.server as Server).close(() => resolve()));
});

describe('main.ts', () => {
  test('publishes a registration through the sidecar with the outbox id, and exits 0 on SIGTERM', async () => {
    const user = newUser();

    const registered = await call(url, 'POST', '/api/auth/register', { body: user });
    const publish = await eventually('the publish', () => sidecar.publishes[0]);
    auth.kill('SIGTERM');
    const [exitCode] = await once(auth, 'exit');

    expect(registered.status).toBe(201);
    expect(sidecar.publishes).toHaveLength(1);
    // The outbox relay publishes its batch with Dapr's bulk publish, one entry per event.
    expect(publish).toEqual({
      path: '/v1.0-alpha1/publish/bulk/pubsub/user-registered',
      query: {},
      body: [
        {
          entryId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          contentType: 'application/json',
          event: expect.objectContaining({ userId: registered.body.id, email: user.email }),
          metadata: {
            'cloudevent.id': expect.stringMatching(/^[0-9a-f-]{36}$/),
            'cloudevent.traceparent': expect.stringMatching(/^00-[0-9a-f]{32}-/),
          },
        },
      ],
    });
    const [entry] = publish.body as { entryId: string; metadata: Record<string, string> }[];
    expect(entry!.metadata['cloudevent.id']).toBe(entry!.entryId);
    expect(exitCode).toBe(0);
    const orm = await connectDatabase(databaseUrl, silentLogger());
    const rows = await orm.em.fork().find(OutboxEvent, {});
    await orm.close();
    expect(rows.map((row) => [row.id, row.topic, row.publishedAt instanceof Date])).toEqual([
      [entry!.entryId, 'user-registered', true],
    ]);
  });
});
