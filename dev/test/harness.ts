import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inheritedEnv } from '../src/stack/config.ts';
import { startIngress, type Ingress } from '../src/ingress/ingress.ts';
import { recordStack, type StackRecorder } from '../src/stack/recorder.ts';
import { Supervisor } from '../src/replicas/supervisor.ts';
import { waitUntil } from '../src/stack/processes.ts';
import type { ReplicaStatus } from '../src/replicas/replica.ts';

export const fixtureApp = path.join(import.meta.dirname, 'fixtures', 'echo-app.ts');

export function temporaryDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export interface FixtureStack {
  supervisor: Supervisor;
  ingress: Ingress;
  recorder: StackRecorder;
  dataDir: string;
  status(replica: string): ReplicaStatus;
  waitFor(replica: string, condition: (status: ReplicaStatus) => boolean): Promise<ReplicaStatus>;
  stop(): Promise<void>;
}

/** Replicas of the fixture app (service `echo`, prefix /api/echo) behind an ingress on a free port. */
export async function startFixtureStack(replicas = 2): Promise<FixtureStack> {
  const dataDir = temporaryDir('sidecart-dev-test-');
  const supervisor = new Supervisor(
    [{ name: 'echo', script: fixtureApp, env: { ...inheritedEnv(), HOST: '127.0.0.1' } }],
    {
      replicas,
      cwd: dataDir,
      logsDir: path.join(dataDir, 'logs'),
      timing: { pollMs: 50, firstBackoffMs: 100, stopGraceMs: 5000 },
    },
  );
  const ingress = await startIngress({
    port: 0,
    routes: [{ prefix: '/api/echo', service: 'echo' }],
    targets: (service) => supervisor.healthyTargets(service),
    onUnreachable: (replica) => supervisor.markUnreachable(replica),
  });
  const recorder = recordStack({
    pid: process.pid,
    startedAt: new Date().toISOString(),
    state: 'running',
    ready: true,
    dataDir,
    logsDir: path.join(dataDir, 'logs'),
    ingress: { url: ingress.url, port: ingress.port, pid: process.pid },
    postgres: null,
    services: {
      echo: { prefixes: ['/api/echo'], database: 'echo', replicas: supervisor.allStatuses() },
    },
  });
  supervisor.on('change', (status) => recorder.updateReplica(status));
  await supervisor.start();
  const status = (replica: string) =>
    supervisor.allStatuses().find((candidate) => candidate.replica === replica)!;
  const waitFor = async (replica: string, condition: (status: ReplicaStatus) => boolean) => {
    if (!(await waitUntil(() => condition(status(replica)), 15_000))) {
      throw new Error(
        `${replica} never reached the expected state: ${JSON.stringify(status(replica))}`,
      );
    }
    return status(replica);
  };
  for (let index = 0; index < replicas; index++)
    await waitFor(`echo-${index}`, (s) => s.state === 'healthy');
  return {
    supervisor,
    ingress,
    recorder,
    dataDir,
    status,
    waitFor,
    async stop() {
      const closed = ingress.close();
      await supervisor.stop();
      ingress.closeAllConnections();
      await closed;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
