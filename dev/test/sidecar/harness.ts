import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
}

export type TestSidecar = RunningSidecar & { databaseUrl: string };

const cleanups: (() => void)[] = [];

/** A dev sidecar in this process, on free ports, over a fresh (or the given) test database. */
export async function startTestSidecar(options: TestSidecarOptions): Promise<TestSidecar> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase('sidecar'));
  const folder = mkdtempSync(path.join(tmpdir(), 'sidecart-sidecar-test-'));
  cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
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
    resourcesPaths,
    configuration: options.configuration,
    secretsFile,
    env: {},
    databaseUrl,
    log: silentLogger(),
  };
  const sidecar = await startSidecar(sidecarOptions);
  return { ...sidecar, databaseUrl };
}

/** Removes the temporary resource folders (call in afterAll). */
export function cleanUpTestSidecars(): void {
  for (const cleanup of cleanups.splice(0)) cleanup();
}
