import { createRequire, Module } from 'node:module';
import type * as HTTPClientModule from '@dapr/dapr/implementation/Client/HTTPClient/HTTPClient.js';
import type * as HTTPClientInvokerModule from '@dapr/dapr/implementation/Client/HTTPClient/invoker.js';
import type * as HTTPClientPubSubModule from '@dapr/dapr/implementation/Client/HTTPClient/pubsub.js';
import type * as HTTPClientStateModule from '@dapr/dapr/implementation/Client/HTTPClient/state.js';
import type * as ClientUtil from '@dapr/dapr/utils/Client.util.js';
import type * as ProtocolModule from '@dapr/dapr/enum/CommunicationProtocol.enum.js';
import type * as ConcurrencyModule from '@dapr/dapr/enum/StateConcurrency.enum.js';
import type * as ConsistencyModule from '@dapr/dapr/enum/StateConsistency.enum.js';
import type * as LogLevelModule from '@dapr/dapr/types/logger/LogLevel.js';
import type * as SettingsModule from '@dapr/dapr/utils/Settings.util.js';

// Seen from ESM, a CommonJS module's `default` is its module.exports, whose own `default` is the class.
export type HTTPClientInvoker = InstanceType<typeof HTTPClientInvokerModule.default.default>;
export type HTTPClientState = InstanceType<typeof HTTPClientStateModule.default.default>;
export type HTTPClientPubSub = InstanceType<typeof HTTPClientPubSubModule.default.default>;

/** The parts of @dapr/dapr an HTTP client needs: its transport, three building blocks, enums. */
export interface DaprHttpSdk {
  HTTPClient: typeof HTTPClientModule.default.default;
  HTTPClientInvoker: typeof HTTPClientInvokerModule.default.default;
  HTTPClientState: typeof HTTPClientStateModule.default.default;
  HTTPClientPubSub: typeof HTTPClientPubSubModule.default.default;
  getClientOptions: typeof ClientUtil.getClientOptions;
  CommunicationProtocolEnum: typeof ProtocolModule.default.default;
  StateConcurrencyEnum: typeof ConcurrencyModule.StateConcurrencyEnum;
  StateConsistencyEnum: typeof ConsistencyModule.StateConsistencyEnum;
  LogLevel: typeof LogLevelModule.LogLevel;
}

const require = createRequire(import.meta.url);
const sdkFile = (file: string) => require(`@dapr/dapr/${file}`) as unknown;

/**
 * Loads @dapr/dapr's HTTP client from its own files rather than its index, which pulls grpc-js,
 * protobufjs, express, durabletask and the actor and workflow runtimes (+60 MiB resident when
 * measured alone; these files and node-fetch: +16). The package has no "exports" map, so its
 * files are public paths. One catch: HTTPClient.js requires the index at load, for a single
 * static, `DaprClient.awaitSidecarStarted`, the wait for the sidecar of its first call. While
 * HTTPClient.js loads, a stand-in takes the index's place in the module cache: it answers with
 * the real DaprClient once the real index is loaded by anyone, else with the same loop here.
 */
export function loadDaprHttpSdk(): DaprHttpSdk {
  const indexPath = require.resolve('@dapr/dapr');
  const clientPath = require.resolve('@dapr/dapr/implementation/Client/HTTPClient/HTTPClient.js');
  const standIn = !require.cache[indexPath] && !require.cache[clientPath];
  if (standIn) require.cache[indexPath] = indexStandIn(indexPath);
  try {
    return {
      HTTPClient: defaultOf(sdkFile('implementation/Client/HTTPClient/HTTPClient.js')),
      HTTPClientInvoker: defaultOf(sdkFile('implementation/Client/HTTPClient/invoker.js')),
      HTTPClientState: defaultOf(sdkFile('implementation/Client/HTTPClient/state.js')),
      HTTPClientPubSub: defaultOf(sdkFile('implementation/Client/HTTPClient/pubsub.js')),
      getClientOptions: (sdkFile('utils/Client.util.js') as typeof ClientUtil).getClientOptions,
      CommunicationProtocolEnum: defaultOf(sdkFile('enum/CommunicationProtocol.enum.js')),
      StateConcurrencyEnum: (sdkFile('enum/StateConcurrency.enum.js') as typeof ConcurrencyModule)
        .StateConcurrencyEnum,
      StateConsistencyEnum: (sdkFile('enum/StateConsistency.enum.js') as typeof ConsistencyModule)
        .StateConsistencyEnum,
      LogLevel: (sdkFile('types/logger/LogLevel.js') as typeof LogLevelModule).LogLevel,
    };
  } finally {
    // Whoever imports @dapr/dapr later gets the real index.
    if (standIn) delete require.cache[indexPath];
  }
}

const defaultOf = <T>(module: unknown) => (module as { default: T }).default;

function indexStandIn(indexPath: string): Module {
  const standIn = new Module(indexPath);
  const ownLoop = { awaitSidecarStarted };
  standIn.exports = {
    get DaprClient() {
      const real = require.cache[indexPath];
      return real && real !== standIn
        ? (real.exports as { DaprClient: unknown }).DaprClient
        : ownLoop;
    },
  };
  standIn.loaded = true;
  return standIn;
}

/**
 * DaprClient.awaitSidecarStarted of @dapr/dapr 3.18: polls until the sidecar answers, every
 * `Settings.getDaprSidecarPollingDelayMs()` (500 ms), and gives up after 60 retries.
 */
async function awaitSidecarStarted(
  isStarted: () => Promise<boolean>,
  logger: { info(message: string): void },
): Promise<void> {
  if (await isStarted()) return;
  logger.info('Awaiting Sidecar to be Started');
  const { Settings } = sdkFile('utils/Settings.util.js') as typeof SettingsModule;
  for (let retries = 1; ; retries++) {
    await new Promise((resolve) => setTimeout(resolve, Settings.getDaprSidecarPollingDelayMs()));
    if (await isStarted()) return;
    if (retries > 60) throw new Error('DAPR_SIDECAR_COULD_NOT_BE_STARTED');
  }
}
