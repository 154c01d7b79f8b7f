import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommunicationProtocolEnum, DaprClient, LogLevel } from '@dapr/dapr';
import { afterAll, describe, test } from '@jest/globals';
import pg from 'pg';
import { createTestDatabase, silentLogger } from '@sidecart/chassis/testing';
import {
  startSidecar,
  type RunningSidecar,
  type SidecarOptions,
} from '../../src/sidecar/sidecar.ts';
import { redisCommand, startDaprdTestSidecar, stopDaprdTestResources } from './daprd-target.ts';

export interface TestSidecarOptions {
  appId: string;
  /** YAML text (written to a temporary folder) or resource folders. Default: none at all. */
  resources?: string | string[];
  appPort?: number;
  apiToken?: string;
  appApiToken?: string;
  /** Share one between sidecars that must see each other (registry, broker). */
  databaseUrl?: string;
  instanceId?: string;
  secrets?: Record<string, Record<string, string>>;
  configuration?: string;
  namespace?: string;
  /** Sidecars that call each other share one, as in a stack. Default: testInternalToken. */
  internalToken?: string;
}

/** The sidecar-to-sidecar secret every test sidecar shares unless told otherwise. */
export const testInternalToken = 'internal-token-shared-by-test-sidecars';

export type TestSidecar = RunningSidecar & {
  databaseUrl: string;
  /** daprd's log (daprd lane only), for a failing test's investigation. */
  logFile?: string;
  /** The Redis behind pubsub.redis (daprd lane only). */
  redisAddress?: string;
};

/**
 * Which sidecar the conformance suite runs against: ours (default) or real daprd
 * (SIDECART_SIDECAR_TARGET=daprd, the daprd lane): one set of tests, two implementations.
 */
export const sidecarTarget: 'dev' | 'daprd' =
  process.env.SIDECART_SIDECAR_TARGET === 'daprd' ? 'daprd' : 'dev';

// Registered by every test file that imports the harness: its daprds and Redis servers go with it.
if (sidecarTarget === 'daprd') afterAll(stopDaprdTestResources);

/**
 * For tests of the dev sidecar's own machinery (its broker tables, its internal token, its
 * resource loader): they have no daprd counterpart, so the daprd lane skips them.
 */
export const describeDevOnly = (...args: Parameters<typeof describe>): void =>
  (sidecarTarget === 'dev' ? describe : describe.skip)(...args);
export const testDevOnly = (...args: Parameters<typeof test>): void =>
  (sidecarTarget === 'dev' ? test : test.skip)(...args);

/**
 * A test that daprd 1.18.3 fails: docs/decisions/0006-dev-sidecar.md lists each `difference`
 * with daprd's answer and how it is (or is not yet) settled. The dev lane runs it; the daprd
 * lane reports it as skipped under the difference's name, so none is forgotten.
 */
export const testKnownDifference = (
  difference: string,
  ...[name, fn, timeout]: Parameters<typeof test>
): void =>
  sidecarTarget === 'daprd'
    ? test.skip(`[ADR 0006: ${difference}] ${name}`, fn, timeout)
    : test(name, fn, timeout);

/**
 * A sidecar on free ports, over a fresh (or the given) test database: the dev sidecar in this
 * process, or daprd as a child process in the daprd lane.
 */
export async function startTestSidecar(options: TestSidecarOptions): Promise<TestSidecar> {
  if (sidecarTarget === 'daprd') return startDaprdTestSidecar(options);
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase('sidecar'));
  const folder = mkdtempSync(path.join(tmpdir(), 'sidecart-sidecar-test-'));
  let resourcesPaths: string[] = [];
  if (typeof options.resources === 'string') {
    writeFileSync(path.join(folder, 'resources.yaml'), options.resources);
    resourcesPaths = [folder];
  } else if (options.resources) resourcesPaths = options.resources;
  let secretsFile: string | undefined;
  if (options.secrets) {
    secretsFile = path.join(folder, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify(options.secrets));
  }
  const sidecarOptions: SidecarOptions = {
    appId: options.appId,
    instanceId: options.instanceId,
    namespace: options.namespace,
    httpPort: 0,
    internalPort: 0,
    appPort: options.appPort,
    apiToken: options.apiToken,
    appApiToken: options.appApiToken,
    internalToken: options.internalToken ?? testInternalToken,
    resourcesPaths,
    configuration: options.configuration,
    secretsFile,
    env: {},
    databaseUrl,
    log: silentLogger(),
  };
  // Resources and secrets are read once, at start (as daprd does): the folder can go at once.
  const sidecar = await startSidecar(sidecarOptions).finally(() =>
    rmSync(folder, { recursive: true, force: true }),
  );
  return { ...sidecar, databaseUrl };
}

/**
 * Messages delivered but not acked yet, in every consumer group: the dev broker's pending
 * table, or the pending-entries lists of daprd's Redis streams.
 */
export async function pendingDeliveries(sidecar: TestSidecar): Promise<number> {
  if (sidecarTarget === 'daprd') {
    const streams = redisCommand(sidecar, 'KEYS', '*') as string[];
    const groups = streams.flatMap(
      (stream) => redisCommand(sidecar, 'XINFO', 'GROUPS', stream) as { pending: number }[],
    );
    return groups.reduce((sum, group) => sum + group.pending, 0);
  }
  return countRows(sidecar, 'select count(*) from pubsub_pending');
}

/** Messages stored on a topic's stream whose data holds `text` (acked or not). */
export async function storedMessages(
  sidecar: TestSidecar,
  topic: string,
  text: string,
): Promise<number> {
  if (sidecarTarget === 'daprd') {
    const entries = redisCommand(sidecar, 'XRANGE', topic, '-', '+') as [string, string[]][];
    return entries.filter(([, fields]) => fields.some((field) => field.includes(text))).length;
  }
  return countRows(
    sidecar,
    `select count(*) from pubsub_messages m join pubsub_streams s on s.id = m.stream_id
     where s.topic = $1 and position($2 in convert_from(m.data, 'UTF8')) > 0`,
    [topic, text],
  );
}

async function countRows(sidecar: TestSidecar, sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: sidecar.databaseUrl });
  await client.connect();
  try {
    return Number((await client.query(sql, values)).rows[0].count);
  } finally {
    await client.end();
  }
}

/** A Component resource as YAML; metadata values are written as quoted strings. */
export function componentYaml(
  name: string,
  type: string,
  version: string,
  metadata: Record<string, string>,
): string {
  const items = Object.entries(metadata).map(
    ([key, value]) => `    - name: ${key}\n      value: ${JSON.stringify(value)}\n`,
  );
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: ${type}
  version: ${version}
  metadata:
${items.join('')}`;
}

export const stateComponent = (name: string, version: string, metadata: Record<string, string>) =>
  componentYaml(name, 'state.postgresql', version, metadata);

/** The dev broker ignores redisHost; in the daprd lane it is pointed at the test's Redis. */
export const pubsubComponent = (name: string, metadata: Record<string, string> = {}) =>
  componentYaml(name, 'pubsub.redis', 'v1', { redisHost: 'localhost:6379', ...metadata });

/** YAML documents (each ending in a newline) as one resources file. */
export const yamlDocuments = (...documents: string[]): string => documents.join('---\n');

const silent = { error() {}, warn() {}, info() {}, verbose() {}, debug() {} };

/**
 * @dapr/dapr's DaprClient over HTTP to `sidecar`, silent: the SDK logs every `{ error }` it
 * returns, and the tests assert those results instead. Call `stop()` when done.
 */
export function createSdkClient(sidecar: { httpPort: number }, apiToken?: string): DaprClient {
  return new DaprClient({
    daprHost: '127.0.0.1',
    daprPort: String(sidecar.httpPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    daprApiToken: apiToken,
    logger: { level: LogLevel.Error, service: silent },
  });
}
