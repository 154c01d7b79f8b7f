import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { prepareDaprdResources } from '../src/reference/daprd-resources.ts';
import { explainDownloadFailure, refusedModules } from '../src/reference/go.ts';
import { componentsDir, daprConfiguration } from '../src/stack/dapr-runtime.ts';
import { temporaryDir } from './harness.ts';

// How real daprd is fed our components/ (`npm start -- --sidecar daprd`, the daprd lanes), and
// how the reference build reads go's failures.

describe('prepareDaprdResources', () => {
  const prepare = () => {
    const dir = temporaryDir('sidecart-daprd-resources-');
    const prepared = prepareDaprdResources({
      dir,
      resourcesPaths: [componentsDir],
      configuration: daprConfiguration,
      secretsFile: '/keys/dapr-secrets.json',
      redisAddress: '127.0.0.1:6400',
      nameResolutionFile: '/names.db',
    });
    const resources = readdirSync(prepared.resourcesPath).flatMap((file) =>
      parseAllDocuments(readFileSync(path.join(prepared.resourcesPath, file), 'utf8')).map(
        (document) => document.toJSON(),
      ),
    );
    const config = parse(readFileSync(prepared.configFile, 'utf8'));
    return { resources, config };
  };

  test('points pubsub.redis at the local Redis and keeps every other component as it is', () => {
    const { resources } = prepare();

    const byName = Object.fromEntries(resources.map((r) => [r.metadata.name, r]));
    expect(byName.pubsub.spec.metadata).toContainEqual({
      name: 'redisHost',
      value: '127.0.0.1:6400',
    });
    expect(byName.pubsub.scopes).toEqual(['auth', 'products', 'orders']);
    expect(byName.statestore.spec).toMatchObject({ type: 'state.postgresql', version: 'v2' });
    expect(resources.map((r) => r.kind).sort()).toEqual([
      'Component',
      'Component',
      'Component',
      'Resiliency',
    ]);
  });

  test('serves the secretKeyRefs from a local file store named like the Kubernetes one', () => {
    const { resources } = prepare();

    const store = resources.find((r) => r.metadata.name === 'kubernetes');
    expect(store.spec).toEqual({
      type: 'secretstores.local.file',
      version: 'v1',
      metadata: [
        { name: 'secretsFile', value: '/keys/dapr-secrets.json' },
        { name: 'multiValued', value: 'true' },
      ],
    });
  });

  test('the Configuration resolves names with SQLite, without Zipkin and without accessControl', () => {
    const { config } = prepare();

    expect(config.metadata.name).toBe('appconfig');
    expect(config.spec.nameResolution).toEqual({
      component: 'sqlite',
      configuration: { connectionString: '/names.db' },
    });
    expect(config.spec.tracing).toEqual({ samplingRate: '1' });
    expect(config.spec.accessControl).toBeUndefined();
  });

  test('a Configuration name that is not there is an error', () => {
    expect(() =>
      prepareDaprdResources({
        dir: temporaryDir('sidecart-daprd-resources-'),
        resourcesPaths: [componentsDir],
        configuration: 'nope',
        nameResolutionFile: '/names.db',
      }),
    ).toThrow('no Configuration named nope in the resources');
  });
});

describe("reading go's failures", () => {
  test('modules the proxy refuses are named with their versions', () => {
    const stderr = [
      'pkg/a.go:20:2: github.com/dapr/durabletask-go@v0.12.4: reading https://proxy.golang.org/github.com/dapr/durabletask-go/@v/v0.12.4.zip: 403 Forbidden',
      'pkg/b.go:17:2: github.com/dapr/durabletask-go@v0.12.4: reading https://proxy.golang.org/github.com/dapr/durabletask-go/@v/v0.12.4.zip: 403 Forbidden',
    ].join('\n');

    expect(refusedModules(stderr)).toEqual(['github.com/dapr/durabletask-go@v0.12.4']);
  });

  test('an unreachable proxy, a checksum mismatch and a refusal read differently', () => {
    const proxy = 'http://127.0.0.1:9';
    const unreachable = explainDownloadFailure(
      'x@v1',
      'x@v1: Get "http://127.0.0.1:9/x/@v/v1.info": dial tcp 127.0.0.1:9: connect: connection refused',
      proxy,
    );
    const mismatch = explainDownloadFailure(
      'the dependencies of t',
      'verifying github.com/docker/buildx@v0.32.1: checksum mismatch\n\tdownloaded: h1:a',
      proxy,
    );
    const refused = explainDownloadFailure('x@v2', 'x@v2: reading …: 403 Forbidden', proxy);

    expect(unreachable.message).toMatch(/^the Go module proxy is not reachable/);
    expect(mismatch.message).toMatch(/^github.com\/docker\/buildx@v0.32.1 as served .* checksum/);
    expect(refused.message).toMatch(/did not serve x@v2/);
  });
});
