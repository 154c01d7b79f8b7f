import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommunicationProtocolEnum, DaprClient, LogLevel } from '@dapr/dapr';
import { createTestDatabase, silentLogger } from '@sidecart/chassis/testing';
import {
  startSidecar,
  type RunningSidecar,
  type SidecarOptions,
} from '../../src/sidecar/sidecar.ts';

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

export type TestSidecar = RunningSidecar & { databaseUrl: string };

/** A dev sidecar in this process, on free ports, over a fresh (or the given) test database. */
export async function startTestSidecar(options: TestSidecarOptions): Promise<TestSidecar> {
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

/** The dev broker ignores redisHost; it is there because daprd requires it. */
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
