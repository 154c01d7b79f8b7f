import { createRequire } from 'node:module';
import { createDaprClient } from '../../src/dapr/client.ts';
import { createLogger } from '../../src/logger.ts';

// Run by narrow-sdk.test.ts in its own Node process: calls Dapr through the adapter, prints
// which modules of @dapr/dapr (and its heavy dependencies) that loaded, then loads the SDK's
// index as another library might and calls through both.
const port = Number(process.argv[2]);
const { cache } = createRequire(import.meta.url);
const loaded = () => Object.keys(cache);
const dapr = createDaprClient({
  host: '127.0.0.1',
  port,
  timeoutMs: 5_000,
  logger: createLogger('narrow-sdk', 'silent'),
});

const results = [
  await dapr.invoke('products', 'ping'),
  (await dapr.publish('pubsub', 'topic', { n: 1 })) ?? null,
  await dapr.getState('statestore', 'k'),
  (await dapr.saveState('statestore', [{ key: 'k', value: { n: 2 } }])) ?? null,
];
const sdkDir = '/node_modules/@dapr/dapr/';
const sdkModules = loaded()
  .filter((file) => file.includes(sdkDir))
  .map((file) => file.slice(file.indexOf(sdkDir) + sdkDir.length));
const heavyModules = loaded().filter((file) =>
  /\/node_modules\/(@grpc\/|protobufjs\/|express\/|@js-temporal\/)/.test(file),
);

const sdk = await import('@dapr/dapr');
const client = new sdk.DaprClient({
  daprHost: '127.0.0.1',
  daprPort: String(port),
  communicationProtocol: sdk.CommunicationProtocolEnum.HTTP,
  logger: { level: sdk.LogLevel.Error },
});
const invoked = await client.invoker.invoke('products', 'ping', sdk.HttpMethod.GET);
await dapr.publish('pubsub', 'topic', { n: 2 });
const afterIndex = {
  indexLoaded: loaded().some((file) => file.endsWith(`${sdkDir}index.js`)),
  invoked,
  publishedThroughAdapter: true,
};
await dapr.close();
console.log(JSON.stringify({ results, sdkModules, heavyModules, afterIndex }));
