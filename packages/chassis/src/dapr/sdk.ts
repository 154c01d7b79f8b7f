import type { HttpMethod } from '@dapr/dapr/enum/HttpMethod.enum.js';
import type { LoggerService } from '@dapr/dapr/types/logger/LoggerService.js';
import type { Logger } from '../logger.ts';
import type { DaprClientOptions, StateItem } from './client.ts';
import {
  loadDaprHttpSdk,
  type DaprHttpSdk,
  type HTTPClientInvoker,
  type HTTPClientPubSub,
  type HTTPClientState,
} from './sdk-http.ts';

/** What DaprClient (HTTP) offers of the building blocks the adapter uses. */
export interface SdkClient {
  invoker: HTTPClientInvoker;
  state: HTTPClientState;
  pubsub: HTTPClientPubSub;
  /** The transport itself, for the calls its building blocks get wrong (bulk publish, js-sdk#703). */
  http: InstanceType<DaprHttpSdk['HTTPClient']>;
  /** Destroys the SDK's keep-alive agents (static: shared by every client in the process). */
  stop(): Promise<void>;
}

/**
 * The SDK's HTTP client, loaded on the first call rather than at start-up, and built as
 * DaprClient builds it for HTTP, from the SDK's own classes but without its index (sdk-http.ts):
 * a replica that has talked to Dapr carries node-fetch and these classes, not grpc-js,
 * protobufjs and express.
 */
export async function connectSdk(
  options: DaprClientOptions,
): Promise<{ sdk: DaprHttpSdk; client: SdkClient }> {
  const sdk = loadDaprHttpSdk();
  const http = new sdk.HTTPClient(
    sdk.getClientOptions(
      {
        daprHost: options.host,
        daprPort: String(options.port),
        daprApiToken: options.apiToken,
        // Capped at Info: the SDK's verbose/debug lines print request headers, the API token included.
        logger: { level: sdk.LogLevel.Info, service: sdkLogger(options.logger) },
      },
      sdk.CommunicationProtocolEnum.HTTP,
      undefined,
    ),
  );
  const client: SdkClient = {
    invoker: new sdk.HTTPClientInvoker(http),
    state: new sdk.HTTPClientState(http),
    pubsub: new sdk.HTTPClientPubSub(http),
    http,
    stop: () => http.stop(),
  };
  return { sdk, client };
}

/** The SDK drops string concurrency values silently; it wants its numeric enum (docs/dapr-behaviour.md §7). */
export function toSdkItem(
  { key, value, etag, concurrency, ttlInSeconds }: StateItem,
  { StateConcurrencyEnum, StateConsistencyEnum }: DaprHttpSdk,
) {
  const concurrencies = {
    'first-write': StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE,
    'last-write': StateConcurrencyEnum.CONCURRENCY_LAST_WRITE,
  } as const;
  return {
    key,
    value,
    etag,
    // A number here is a 400 from Dapr: metadata values are strings (docs/dapr-behaviour.md §3.3).
    metadata: ttlInSeconds === undefined ? undefined : { ttlInSeconds: String(ttlInSeconds) },
    options: concurrency && {
      concurrency: concurrencies[concurrency],
      consistency: StateConsistencyEnum.CONSISTENCY_UNSPECIFIED,
    },
  };
}

/** The SDK honours an explicit content type only under the exact key `Content-Type`. */
export function sdkHeaders(headers: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) =>
      name.toLowerCase() === 'content-type' ? ['Content-Type', value] : [name, value],
    ),
  );
}

export const toSdkVerb = (verb: string) => verb.toLowerCase() as HttpMethod;

/**
 * The SDK logs every `{ error }` it returns at ERROR, though the adapter throws it to a caller who
 * decides (an etag mismatch is routine): its lines go to debug.
 */
function sdkLogger(logger: Logger): LoggerService {
  const log = logger.child({ component: 'dapr-sdk' });
  const write = (message: unknown) => log.debug(String(message));
  return { error: write, warn: write, info: write, verbose: write, debug: write };
}
