import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '@sidecart/chassis/testing';
import { daprdArgs } from '../../src/reference/daprd-args.ts';
import { findDaprd } from '../../src/reference/daprd-binary.ts';
import { prepareDaprdResources } from '../../src/reference/daprd-resources.ts';
import { startRedis, type RedisServer } from '../../src/reference/redis.ts';
import { freePort } from '../../src/stack/ports.ts';
import { waitUntil } from '../../src/stack/processes.ts';
import type { TestSidecar, TestSidecarOptions } from './harness.ts';

// The same test sidecar, served by real daprd: what the dev sidecar keeps in its `databaseUrl`
// (name registry, pub/sub broker) daprd keeps in a SQLite resolver file and a Redis, one each
// per databaseUrl, so sidecars that share one find each other and their messages, as they do
// on the dev sidecar. They live until the test file ends (stopDaprdTestResources).

const shared = new Map<string, { redis: Promise<RedisServer>; names: string }>();
const scratch: string[] = [];
const running = new Set<() => Promise<void>>();

/**
 * After a test file: closes the daprds it left running, stops its Redis servers and removes
 * the scratch folders (kept with SIDECART_KEEP_DAPRD=1, daprd's logs among them).
 */
export async function stopDaprdTestResources(): Promise<void> {
  await Promise.all([...running].map((close) => close()));
  const servers = await Promise.allSettled([...shared.values()].map((entry) => entry.redis));
  await Promise.all(
    servers.map((server) => (server.status === 'fulfilled' ? server.value.stop() : undefined)),
  );
  shared.clear();
  if (!process.env.SIDECART_KEEP_DAPRD) {
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  }
  scratch.length = 0;
}

function sharedBy(databaseUrl: string) {
  let entry = shared.get(databaseUrl);
  if (!entry) {
    const hash = createHash('sha256').update(databaseUrl).digest('hex').slice(0, 12);
    const dir = mkdtempSync(path.join(tmpdir(), `sidecart-daprd-${hash}-`));
    scratch.push(dir);
    entry = { redis: startRedis(), names: path.join(dir, 'names.db') };
    shared.set(databaseUrl, entry);
  }
  return entry;
}

export async function startDaprdTestSidecar(options: TestSidecarOptions): Promise<TestSidecar> {
  const daprd = findDaprd();
  if ('missing' in daprd) throw new Error(daprd.missing);
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase('sidecar'));
  const { redis, names } = sharedBy(databaseUrl);
  const dir = mkdtempSync(path.join(tmpdir(), 'sidecart-daprd-test-'));
  scratch.push(dir);
  let resourcesPaths: string[] = [];
  if (typeof options.resources === 'string') {
    const folder = path.join(dir, 'given');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'resources.yaml'), options.resources);
    resourcesPaths = [folder];
  } else if (options.resources) resourcesPaths = options.resources;
  let secretsFile: string | undefined;
  if (options.secrets) {
    secretsFile = path.join(dir, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify(options.secrets));
  }
  const prepared = prepareDaprdResources({
    dir: path.join(dir, 'daprd'),
    resourcesPaths,
    configuration: options.configuration,
    secretsFile,
    redisAddress: (await redis).address,
    nameResolutionFile: names,
  });
  const httpPort = await freePort();
  const args = await daprdArgs({
    appId: options.appId,
    appPort: options.appPort,
    httpPort,
    ...prepared,
    logLevel: 'debug',
  });
  const logFile = path.join(dir, 'daprd.log');
  const log = openSync(logFile, 'a');
  const child = spawn(daprd.path, args, {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(options.namespace && { NAMESPACE: options.namespace }),
      ...(options.apiToken && { DAPR_API_TOKEN: options.apiToken }),
      ...(options.appApiToken && { APP_API_TOKEN: options.appApiToken }),
    },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${httpPort}`;
  const answers = async (route: string) =>
    (await fetch(`${url}${route}`).catch(() => undefined))?.status === 204;
  const started = await waitUntil(
    () => child.exitCode !== null || answers('/v1.0/healthz/outbound'),
    30_000,
  );
  const close = async () => {
    running.delete(close);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };
  running.add(close);
  if (!started || child.exitCode !== null) {
    await close();
    throw new Error(`daprd did not start:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
  }
  const appReady =
    options.appPort === undefined
      ? new Promise<void>(() => {})
      : waitUntil(() => answers('/v1.0/healthz'), 30_000).then(() => undefined);
  const redisAddress = (await redis).address;
  return { httpPort, internalPort: 0, url, appReady, close, databaseUrl, logFile, redisAddress };
}

/** A command to the Redis of a daprd test sidecar, its answer as JSON (redis-cli --json). */
export function redisCommand(sidecar: TestSidecar, ...args: string[]): unknown {
  const [host, port] = sidecar.redisAddress!.split(':') as [string, string];
  const output = execFileSync('redis-cli', ['-h', host, '-p', port, '--json', ...args]);
  return JSON.parse(output.toString());
}
