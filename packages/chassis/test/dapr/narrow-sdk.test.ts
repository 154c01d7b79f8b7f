import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startFakeSidecar, type FakeSidecar } from './fake-sidecar.ts';

// In a real Node process (jest keeps its own module registry): what the adapter loads of
// @dapr/dapr once it has invoked, published and used state, and that the SDK's index, loaded by
// anyone afterwards, still works beside it.
const script = path.join(import.meta.dirname, 'narrow-sdk-process.ts');
let sidecar: FakeSidecar;

beforeAll(async () => {
  sidecar = await startFakeSidecar();
  sidecar.reply = ({ method, url }) => {
    if (url.startsWith('/v1.0/invoke/')) return { status: 200, body: { hello: 'world' } };
    if (method === 'POST' && url.startsWith('/v1.0/state/statestore/bulk'))
      return { status: 200, body: [{ key: 'k', data: { n: 1 }, etag: '7' }] };
    return { status: 204 };
  };
});

afterAll(() => sidecar.close());

interface ProcessReport {
  results: unknown[];
  sdkModules: string[];
  heavyModules: string[];
  afterIndex: { indexLoaded: boolean; invoked: unknown; publishedThroughAdapter: boolean };
}

function runScript(port: number): Promise<ProcessReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as ProcessReport) : reject(new Error(err || out)),
    );
  });
}

test('a replica that talked to Dapr loads the HTTP client of @dapr/dapr, not its index (grpc-js, protobufjs, express)', async () => {
  const report = await runScript(sidecar.port);

  expect(report.results).toEqual([{ hello: 'world' }, null, { value: { n: 1 }, etag: '7' }, null]);
  expect(report.heavyModules).toEqual([]);
  expect(report.sdkModules).toContain('implementation/Client/HTTPClient/HTTPClient.js');
  expect(report.sdkModules).not.toContain('index.js');
  // The stand-in index is gone: the real one loads, and both clients keep working.
  expect(report.afterIndex).toEqual({
    indexLoaded: true,
    invoked: { hello: 'world' },
    publishedThroughAdapter: true,
  });
  const calls = sidecar.requests.map(({ method, url }) => `${method} ${url.split('?')[0]}`);
  expect(calls).toEqual([
    'GET /v1.0/invoke/products/method/ping',
    'POST /v1.0/publish/pubsub/topic',
    'POST /v1.0/state/statestore/bulk',
    'POST /v1.0/state/statestore',
    'GET /v1.0/invoke/products/method/ping',
    'POST /v1.0/publish/pubsub/topic',
  ]);
}, 30_000);
