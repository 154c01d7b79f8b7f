import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from '@jest/globals';
import { createTestDatabase } from '@sidecart/chassis/testing';
import { sidecarScript } from '../../src/stack/dapr-runtime.ts';
import { freePort } from '../../src/stack/ports.ts';
import { waitUntil } from '../../src/stack/processes.ts';
import { describeDevOnly, testDevOnly } from './harness.ts';

// The dev sidecar as `npm start` runs it: its own process, settings from the environment. Its
// settings and resources are read by a short-lived child, so the sidecar itself never loads zod
// or yaml, and cel-js only for a CEL rule (ADR 0013).

const recorder = path.join(import.meta.dirname, 'fixtures', 'module-recorder.ts');
const folder = mkdtempSync(path.join(tmpdir(), 'sidecart-sidecar-process-'));
let databaseUrl: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase('sidecar');
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const stateStore = `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: statestore }
spec:
  type: state.postgresql
  version: v1
  metadata:
    - name: connectionString
      envRef: TEST_STATE_DATABASE
`;

/** Runs the sidecar script with the given resources; resolves with its exit and output. */
function runSidecar(resources: string, env: Record<string, string>) {
  const resourcesPath = mkdtempSync(path.join(folder, 'resources-'));
  writeFileSync(path.join(resourcesPath, 'resources.yaml'), resources);
  const recordFile = path.join(resourcesPath, 'modules.txt');
  const child = spawn(process.execPath, ['--import', recorder, sidecarScript], {
    env: {
      PATH: process.env.PATH,
      APP_ID: 'process-test',
      DAPR_RESOURCES_PATH: resourcesPath,
      SIDECAR_DATABASE_URL: databaseUrl,
      TEST_STATE_DATABASE: databaseUrl,
      LOG_LEVEL: 'info',
      MODULE_RECORD_FILE: recordFile,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    modules: () => readFileSync(recordFile, 'utf8').split('\n'),
  };
}

const loaded = (modules: string[], pkg: string) =>
  modules.some((url) => url.includes(`/node_modules/${pkg}/`));

describeDevOnly('the dev sidecar process', () => {
  testDevOnly(
    'serves the API without zod, yaml or cel-js in memory',
    async () => {
      const port = await freePort();
      const sidecar = runSidecar(stateStore, { DAPR_HTTP_PORT: String(port) });
      const url = `http://127.0.0.1:${port}/v1.0/state/statestore`;

      const up = await waitUntil(async () => {
        const saved = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify([{ key: 'greeting', value: 'hello' }]),
        }).catch(() => undefined);
        return saved?.status === 204;
      }, 30_000);
      const read = await (await fetch(`${url}/greeting`)).json();
      sidecar.child.kill('SIGTERM');
      const code = await sidecar.exited;

      expect(up).toBe(true);
      expect(read).toBe('hello');
      expect(code).toBe(0);
      const modules = sidecar.modules();
      expect(loaded(modules, 'pg')).toBe(true);
      expect(loaded(modules, 'zod')).toBe(false);
      expect(loaded(modules, 'yaml')).toBe(false);
      expect(loaded(modules, '@marcbachmann/cel-js')).toBe(false);
    },
    60_000,
  );

  testDevOnly(
    'refuses an invalid setting with exit 78, naming it',
    async () => {
      const sidecar = runSidecar(stateStore, { APP_ID: 'Not_A_Label' });

      const code = await sidecar.exited;

      expect(code).toBe(78);
      expect(sidecar.output().stderr).toContain('APP_ID: a DNS label');
    },
    30_000,
  );

  testDevOnly(
    'refuses invalid resources with exit 1, every problem in one fatal log line',
    async () => {
      const broken = `${stateStore.replace('envRef: TEST_STATE_DATABASE', 'envRef: UNSET_VARIABLE')}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: queue }
spec: { type: bindings.kafka, version: v1, metadata: [] }
`;
      const sidecar = runSidecar(broken, {});

      const code = await sidecar.exited;

      expect(code).toBe(1);
      const lines = sidecar
        .output()
        .stdout.trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      const fatal = lines.filter((line: { level: number }) => line.level === 60);
      expect(fatal).toHaveLength(1);
      expect(fatal[0].err.type).toBe('ResourceError');
      expect(fatal[0].msg).toContain('metadata connectionString needs env UNSET_VARIABLE');
      expect(fatal[0].msg).toContain('component queue (bindings.kafka)');
    },
    30_000,
  );
});
