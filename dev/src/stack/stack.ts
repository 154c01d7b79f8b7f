import path from 'node:path';
import { repoRoot, type DevConfig } from './config.ts';
import { formatMs, report, shortPath } from './console-report.ts';
import { startIngressProcess, type IngressProcess } from '../ingress/ingress-process.ts';
import { daprDatabase, prepareDaprRuntime, sidecarScript } from './dapr-runtime.ts';
import { runMigration } from '../postgres/migrations.ts';
import { makeDataDirPrivate } from './private-data.ts';
import { startPostgres, type PostgresServer } from '../postgres/cluster.ts';
import { waitUntil } from './processes.ts';
import { entryPoints, selectServices, serviceEnv, type ServiceDefinition } from './services.ts';
import { describeLiveStack, liveStack, readStackFile, removeStackFile } from './stack-file.ts';
import { initialStackFile, recordStack, type StackRecorder } from './recorder.ts';
import { Supervisor, type ServicePlan } from '../replicas/supervisor.ts';
import { watchReplicas } from '../replicas/events.ts';
import {
  daprdSidecarScript,
  startDaprdRuntime,
  type DaprdRuntime,
} from '../reference/daprd-runtime.ts';

export interface RunningStack {
  /** Resolves with a reason if the stack can no longer work (PostgreSQL died). */
  readonly failed: Promise<string>;
  /** Graceful: ingress closes, replicas drain, PostgreSQL stops last. */
  stop(): Promise<void>;
  /** SIGKILLs the replicas, so a graceful stop in progress finishes at once. */
  kill(): Promise<void>;
}

interface Parts {
  ingress?: IngressProcess;
  recorder?: StackRecorder;
  postgres?: PostgresServer;
  supervisor?: Supervisor;
  /** `--sidecar daprd`: the Redis beside them. */
  daprd?: DaprdRuntime;
}

/** Starts PostgreSQL, migrations, replicas and the ingress; cleans up after itself if one fails. */
export async function startStack(
  config: DevConfig,
  interrupt?: AbortSignal,
): Promise<RunningStack> {
  const startedAt = Date.now();
  const services = selectServices(config.services);
  const logsDir = path.join(config.dataDir, 'logs');
  const other = liveStack(config.dataDir);
  if (other) throw new Error(describeLiveStack(other, config.dataDir));
  const stale = readStackFile(config.dataDir);
  if (stale) {
    report.note(
      `the stack of pid ${stale.pid} did not stop cleanly: replacing its stack.json, ` +
        `stopping what it left running`,
    );
  }
  makeDataDirPrivate(config.dataDir);
  const parts: Parts = {};
  try {
    await bringUp(config, services, logsDir, parts, interrupt);
  } catch (error) {
    await tearDown(config, parts);
    throw error;
  }
  const { recorder, supervisor } = parts as Required<Parts>;
  recorder.update({ state: 'running', ready: true });
  report.summary(recorder.current, Date.now() - startedAt, config.sidecar);
  return {
    failed: parts.postgres!.crashed.then((code) => `PostgreSQL exited unexpectedly (code ${code})`),
    stop: () => tearDown(config, parts),
    kill: () => supervisor.kill(),
  };
}

async function bringUp(
  config: DevConfig,
  services: ServiceDefinition[],
  logsDir: string,
  parts: Parts,
  interrupt?: AbortSignal,
) {
  let stepStartedAt = Date.now();
  // Ends a step: how long it took; stops here if Ctrl-C came meanwhile.
  const lap = () => {
    interrupt?.throwIfAborted();
    const ms = Date.now() - stepStartedAt;
    stepStartedAt = Date.now();
    return ms;
  };
  const entries = services.map((service) => entryPoints(config.servicesDir, service.name));
  parts.ingress = await startIngressProcess({
    port: config.port,
    routes: services.flatMap((service) =>
      service.prefixes.map((prefix) => ({ prefix, service: service.name })),
    ),
    onUnreachable: (replica) => parts.supervisor?.markUnreachable(replica),
    onExit: (reason) => report.warn(`the ingress exited (${reason}); starting it again`),
    onRestart: (ingress) => {
      parts.recorder?.update({
        ingress: { url: ingress.url, port: ingress.port, pid: ingress.pid },
      });
      report.step(`ingress back on http://localhost:${ingress.port} (pid ${ingress.pid})`);
    },
  });
  parts.recorder = recordStack(initialStackFile(config, services, logsDir, parts.ingress));
  report.step(`ingress listening on http://localhost:${parts.ingress.port}`, lap());

  const postgres = await startDatabases(config, services, logsDir, parts, lap);
  const dapr = prepareDaprRuntime(config, postgres.url(daprDatabase));
  if (config.sidecar === 'daprd') {
    const options = { dataDir: config.dataDir, logsDir, daprd: config.daprd, dev: dapr };
    parts.daprd = await startDaprdRuntime(options);
    const { daprd, redis } = parts.daprd;
    parts.recorder?.update({ redis: { address: redis.address, pid: redis.pid } });
    report.step(`daprd sidecars: ${daprd}; redis on ${redis.address} (pid ${redis.pid})`, lap());
  }
  const daprd = parts.daprd;
  const plans = services.map((service, index): ServicePlan => ({
    name: service.name,
    script: entries[index]!.main,
    env: { ...serviceEnv(service, config, postgres.url(service.database)), ...dapr.appEnv },
    sidecar: daprd
      ? { script: daprdSidecarScript, env: daprd.sidecarEnv(service.name) }
      : { script: sidecarScript, env: dapr.sidecarEnv(service.name) },
  }));
  await Promise.all(
    plans.map((plan, index) =>
      runMigration({
        service: plan.name,
        script: entries[index]!.migrate,
        env: plan.env,
        cwd: repoRoot,
        logFile: path.join(logsDir, `${plan.name}-migrate.log`),
      }),
    ),
  );
  report.step(`migrations: ${plans.map((plan) => plan.name).join(', ')}`, lap());

  const supervisor = new Supervisor(plans, {
    replicas: config.replicas,
    cwd: repoRoot,
    logsDir,
    onOutput: config.logs ? report.output : undefined,
    timing: { unhealthyLimitMs: config.unhealthyLimitSeconds * 1000 },
  });
  parts.supervisor = supervisor;
  // The ingress runs in its own process: it hears of a service's healthy replicas on every change.
  supervisor.on('change', ({ appId }) =>
    parts.ingress?.setTargets(appId, supervisor.healthyTargets(appId)),
  );
  await startReplicas(supervisor, logsDir, parts.recorder, interrupt);
}

async function startDatabases(
  config: DevConfig,
  services: ServiceDefinition[],
  logsDir: string,
  parts: Parts,
  lap: () => number,
): Promise<PostgresServer> {
  const postgres = await startPostgres({
    dataDir: path.join(config.dataDir, 'postgres'),
    port: config.postgresPort,
    stackDir: config.dataDir,
    logFile: path.join(logsDir, 'postgres.log'),
    onLog: (line) => report.note(line),
  });
  parts.postgres = postgres;
  const { port, dataDir, pid, watchdogPid } = postgres;
  parts.recorder?.update({ postgres: { port, dataDir, pid, watchdogPid } });
  const fresh = postgres.initialised ? ', new cluster' : '';
  report.step(`postgres ready on 127.0.0.1:${port} (pid ${pid}${fresh})`, lap());
  const databases = [...services.map((service) => service.database), daprDatabase];
  await Promise.all(databases.map((database) => postgres.ensureDatabase(database)));
  report.step(`databases: ${databases.join(', ')}`, lap());
  return postgres;
}

async function startReplicas(
  supervisor: Supervisor,
  logsDir: string,
  recorder: StackRecorder,
  interrupt?: AbortSignal,
) {
  for (const status of supervisor.allStatuses()) recorder.updateReplica(status);
  const everReady = watchReplicas(supervisor, recorder);
  await supervisor.start();
  const allReady = await waitUntil(() => {
    interrupt?.throwIfAborted();
    const statuses = supervisor.allStatuses();
    const hopeless = statuses.find(
      (status) => status.restarts >= 3 && !everReady.has(status.replica),
    );
    if (hopeless) {
      const log = (suffix: string) => shortPath(path.join(logsDir, `${hopeless.replica}${suffix}`));
      throw new Error(
        `${hopeless.replica} keeps exiting before it is ready; see ${log('.log')} and ${log('-daprd.log')}`,
      );
    }
    return statuses.every((status) => everReady.has(status.replica));
  }, 90_000);
  if (!allReady) throw new Error(`replicas were not ready within ${formatMs(90_000)}`);
}

async function tearDown(config: DevConfig, parts: Parts): Promise<void> {
  parts.recorder?.update({ state: 'stopping', ready: false });
  const closed = parts.ingress?.close();
  await parts.supervisor?.stop();
  parts.ingress?.closeAllConnections();
  await closed;
  await parts.daprd?.stop();
  await parts.postgres?.stop();
  if (parts.recorder) removeStackFile(config.dataDir);
}
