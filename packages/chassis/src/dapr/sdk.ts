import type * as DaprSdkModule from '@dapr/dapr';
import type { DaprClient, HttpMethod, LoggerService } from '@dapr/dapr';
import type { Logger } from '../logger.ts';
import type { DaprClientOptions, StateItem } from './client.ts';

export type DaprSdk = typeof DaprSdkModule;

/**
 * The SDK and one HTTP client, loaded on the first call rather than at start-up: @dapr/dapr brings
 * grpc-js, protobufjs and express even for HTTP (about 25 MiB resident and 300 ms), which a
 * replica that has not talked to Dapr yet need not carry.
 */
export async function connectSdk(
  options: DaprClientOptions,
): Promise<{ sdk: DaprSdk; client: DaprClient }> {
  const sdk = await import('@dapr/dapr');
  const client = new sdk.DaprClient({
    daprHost: options.host,
    daprPort: String(options.port),
    communicationProtocol: sdk.CommunicationProtocolEnum.HTTP,
    daprApiToken: options.apiToken,
    // Capped at Info: the SDK's verbose/debug lines print request headers, the API token included.
    logger: { level: sdk.LogLevel.Info, service: sdkLogger(options.logger) },
  });
  return { sdk, client };
}

/** The SDK drops string concurrency values silently; it wants its numeric enum (docs/dapr-behaviour.md §7). */
export function toSdkItem(
  { key, value, etag, concurrency, ttlInSeconds }: StateItem,
  { StateConcurrencyEnum, StateConsistencyEnum }: DaprSdk,
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
