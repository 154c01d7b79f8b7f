import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import pg from 'pg';
import { createLogger } from '@sidecart/chassis';
import { sidecarScript } from '@sidecart/dev/dapr-runtime';
import { freePort } from '@sidecart/dev/ports';
import { startPostgres, type PostgresServer } from '@sidecart/dev/postgres';
import { signalGroup, waitUntil } from '@sidecart/dev/processes';
import { startSidecar, type RunningSidecar } from '@sidecart/dev/sidecar';
import { Supervisor } from '@sidecart/dev/supervisor';

// Whole stacks start here (a project's own testTimeout is ignored when several projects run).
jest.setTimeout(120_000);

// Pub/sub under faults, counted (issue: dev sidecar acceptance). Two subscriber replicas — each an
// app process (chassis subscription helpers + inbox) beside a dev sidecar process — compete for one
// topic. While 1,000 events are published, one replica is SIGKILLed (app and sidecar, like a pod)
// and restarted by the supervisor. Messages its sidecar had claimed stay pending in the broker and
// are redelivered after `processingTimeout`; the inbox makes a redelivery of an already applied
// event a no-op. Then a poison event must reach the dead-letter topic after the configured retries.

const total = 1000;
const retries = 3;
const topic = 'test-events';
const fixture = path.resolve(import.meta.dirname, '../fixtures/subscriber-app.ts');

const resources = `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: pubsub }
spec:
  type: pubsub.redis
  version: v1
  metadata:
    - { name: redisHost, value: "localhost:6379" }
    - { name: processingTimeout, value: "2s" }
    - { name: redeliverInterval, value: "250ms" }
---
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: { name: test }
spec:
  policies:
    retries:
      inbound: { policy: constant, duration: 20ms, maxRetries: ${retries} }
  targets:
    components:
      pubsub: { inbound: { retry: inbound } }
`;

describe('pub/sub: 1,000 events while a subscriber replica is killed', () => {
  let root: string;
  let postgres: PostgresServer;
  let supervisor: Supervisor;
  let publisher: RunningSidecar;
  let app: pg.Pool;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'sidecart-chaos-'));
    chmodSync(root, 0o755);
    writeFileSync(path.join(root, 'resources.yaml'), resources);
    postgres = await startPostgres({
      dataDir: path.join(root, 'pg'),
      port: await freePort(),
      ephemeral: true,
    });
    await Promise.all(['dapr', 'subscriber'].map((name) => postgres.ensureDatabase(name)));
    const sidecarEnv = {
      ...process.env,
      APP_ID: 'subscriber',
      LOG_LEVEL: 'warn',
      DAPR_RESOURCES_PATH: root,
      SIDECAR_DATABASE_URL: postgres.url('dapr'),
      APP_API_TOKEN: 'app-token-for-the-test',
    };
    supervisor = new Supervisor(
      [
        {
          name: 'subscriber',
          script: fixture,
          env: {
            ...process.env,
            DATABASE_URL: postgres.url('subscriber'),
            APP_API_TOKEN: 'app-token-for-the-test',
          },
          sidecar: { script: sidecarScript, env: sidecarEnv },
        },
      ],
      {
        replicas: 2,
        cwd: root,
        logsDir: path.join(root, 'logs'),
        timing: { pollMs: 100, firstBackoffMs: 100, stopGraceMs: 5000 },
      },
    );
    await supervisor.start();
    expect(await waitUntil(() => allHealthy(supervisor), 60_000)).toBe(true);
    publisher = await startSidecar({
      appId: 'publisher',
      httpPort: 0,
      internalPort: 0,
      resourcesPaths: [root],
      databaseUrl: postgres.url('dapr'),
      log: createLogger('publisher', 'silent'),
    });
    app = new pg.Pool({ connectionString: postgres.url('subscriber'), max: 2 });
  });

  afterAll(async () => {
    await app?.end();
    await publisher?.close();
    await supervisor?.stop();
    await postgres?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const publish = async (data: unknown) => {
    const response = await fetch(`${publisher.url}/v1.0/publish/pubsub/${topic}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(data),
    });
    expect(response.status).toBe(204);
  };
  const count = async (sql: string) => Number((await app.query(sql)).rows[0].count);

  test('every event is applied exactly once; the killed replica comes back', async () => {
    const killAt = 300;
    let next = 0;
    const killed = { replica: '', done: false };
    // Ten publishers in parallel; the kill happens mid-stream, as soon as event 300 is out.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < total) {
          const seq = next++;
          await publish({ seq });
          if (seq === killAt) {
            const [victim] = supervisor.statuses('subscriber');
            killed.replica = victim!.replica;
            for (const pid of [victim!.pid, victim!.sidecarPid]) signalGroup(pid!, 'SIGKILL');
            killed.done = true;
          }
        }
      }),
    );
    expect(killed.done).toBe(true);

    const applied = () => count('select count(*) from applied');
    expect(await waitUntil(async () => (await applied()) === total, 90_000, 200)).toBe(true);
    expect(await waitUntil(() => allHealthy(supervisor), 30_000)).toBe(true);

    const { rows } = await app.query(
      'select count(*)::int as events, count(distinct seq)::int as seqs, min(seq) as low, ' +
        'max(seq) as high, max(times) as most from applied',
    );
    expect(rows[0]).toEqual({ events: total, seqs: total, low: 0, high: total - 1, most: 1 });
    // Every delivery attempt is counted outside the inbox: at least one per event. Deliveries
    // beyond that are redeliveries of what the killed sidecar held (or had not acked yet).
    expect(await count('select count(distinct event_id) from attempts')).toBe(total);
    expect(await count('select count(*) from attempts')).toBeGreaterThanOrEqual(total);
    // Both replicas took part before the kill: the stream was really shared and interrupted.
    const replicas = await app.query('select distinct replica from attempts order by replica');
    expect(replicas.rows.map((row) => row.replica)).toEqual(['subscriber-0', 'subscriber-1']);
    const victim = supervisor.statuses('subscriber').find((s) => s.replica === killed.replica)!;
    expect(victim.restarts).toBeGreaterThanOrEqual(1);
    expect(victim.state).toBe('healthy');
  });

  test(`a poison event reaches the dead-letter topic after ${retries} retries`, async () => {
    await publish({ seq: -1, poison: true });
    const deadLetters = () => count('select count(*) from dead_letters');
    expect(await waitUntil(async () => (await deadLetters()) === 1, 30_000, 100)).toBe(true);

    const { rows } = await app.query('select topic, seq from dead_letters');
    // The dead-letter copy is the original message: its CloudEvent still names the first topic.
    expect(rows).toEqual([{ topic, seq: -1 }]);
    expect(await count('select count(*) from attempts where seq = -1')).toBe(1 + retries);
    expect(await count('select count(*) from applied where seq = -1')).toBe(0);
  });
});

function allHealthy(supervisor: Supervisor): boolean {
  const statuses = supervisor.statuses('subscriber');
  return statuses.length === 2 && statuses.every((status) => status.state === 'healthy');
}
