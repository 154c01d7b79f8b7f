import type { Logger } from '../logger.ts';
import { clientErrorCodes, DaprError, toDaprError } from './errors.ts';
import { connectSdk, sdkHeaders, toSdkItem, toSdkVerb } from './sdk.ts';

export interface DaprClientOptions {
  host: string;
  port: number;
  /** DAPR_API_TOKEN: sent as `dapr-api-token` on every call. */
  apiToken?: string;
  /** Per call; the SDK has no timeout of its own. */
  timeoutMs: number;
  logger: Logger;
}

export interface InvokeOptions {
  /** Defaults to POST when there is a body, else GET. */
  httpMethod?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Sent as JSON when an object; the SDK sends no body at all for `0`, `''` or `false`. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Rejects the call early with the signal's reason (the request itself keeps running). */
  signal?: AbortSignal;
}

export interface StateItem {
  key: string;
  value: unknown;
  /** Write only if the stored etag still matches; a mismatch throws (see isEtagMismatch). */
  etag?: string;
  /** `first-write` without an etag inserts only: an existing key is a mismatch. */
  concurrency?: 'first-write' | 'last-write';
  ttlInSeconds?: number;
}

export type StateOperation =
  ({ operation: 'upsert' } & StateItem) | { operation: 'delete'; key: string; etag?: string };

export interface PublishOptions {
  /** The CloudEvent id; pass the outbox id so a republished event keeps its id (inbox dedupe). */
  id?: string;
  /** W3C trace context to continue in the subscriber. */
  traceparent?: string;
  metadata?: Record<string, string>;
  contentType?: string;
}

/** One event of a bulk publish: `id` is its entry id and its CloudEvent id. */
export interface BulkPublishEntry {
  id: string;
  data: unknown;
  traceparent?: string;
}

/** An entry the broker did not take, with why. */
export interface BulkPublishFailure {
  id: string;
  error: DaprError;
}

/** The Dapr building blocks the services use, with typed errors (DaprError) and a timeout. */
export interface Dapr {
  invoke<T = unknown>(appId: string, method: string, options?: InvokeOptions): Promise<T>;
  /** `undefined` when the key does not exist (or expired); etag `''` if the store keeps none. */
  getState<T = unknown>(
    store: string,
    key: string,
  ): Promise<{ value: T; etag: string } | undefined>;
  saveState(store: string, items: StateItem[]): Promise<void>;
  deleteState(store: string, key: string, options?: { etag?: string }): Promise<void>;
  /** All or nothing; an etag conflict is a 500 ERR_STATE_TRANSACTION here (docs/dapr-behaviour.md §3.8). */
  transactState(store: string, operations: StateOperation[]): Promise<void>;
  publish(pubsub: string, topic: string, data: unknown, options?: PublishOptions): Promise<void>;
  /**
   * Publishes JSON events to one topic in one call (`/v1.0-alpha1/publish/bulk`); resolves with the
   * entries the broker refused (none when all were taken) and throws when the call as a whole failed.
   */
  publishBulk(
    pubsub: string,
    topic: string,
    entries: BulkPublishEntry[],
  ): Promise<BulkPublishFailure[]>;
  /**
   * Calls the SDK's stop(), which destroys its keep-alive agents. They are static: shared by every
   * DaprClient in the process, so this cuts their in-flight requests too. Call it once, at shutdown,
   * after the server has drained (later calls would still work, on new connections).
   */
  close(): Promise<void>;
}

/**
 * One DaprClient (HTTP) behind the quirks of @dapr/dapr 3.18 (docs/dapr-behaviour.md §7): its thrown JSON
 * strings and `{ error }` results become DaprError, the ETag it drops is read through bulk get,
 * state options become its numeric enums, and every call gets a deadline. The first call waits for
 * the sidecar (the SDK polls GET /v1.0/metadata for up to ~30 s), within that same deadline;
 * the SDK itself is loaded then too, not at start-up (sdk.ts).
 */
export function createDaprClient(options: DaprClientOptions): Dapr {
  let connected: ReturnType<typeof connectSdk> | undefined;
  const connect = () => (connected ??= connectSdk(options));
  // The deadline is Dapr's: loading the SDK on the first call does not count against it.
  const run = <T>(
    call: string,
    work: (sdk: Awaited<ReturnType<typeof connectSdk>>) => Promise<T>,
    signal?: AbortSignal,
  ) => connect().then((sdk) => withDeadline(call, options.timeoutMs, () => work(sdk), signal));
  let closing: Promise<void> | undefined;

  return {
    invoke: (appId, method, { httpMethod, body, headers, signal } = {}) =>
      run(
        `invoke ${appId}/${method}`,
        async ({ client }) => {
          const verb = httpMethod ?? (body === undefined ? 'GET' : 'POST');
          const path = method.replace(/^\/+/, '');
          const sent = sdkHeaders(headers);
          return (await client.invoker.invoke(appId, path, toSdkVerb(verb), body as object, {
            headers: sent,
          })) as never;
        },
        signal,
      ),

    getState: (store, key) =>
      run(`getState ${store}`, async ({ client }) => {
        // state.get discards the ETag header (js-sdk#540); bulk get returns it per item.
        const items = (await client.state.getBulk(store, [key])) as BulkItem[];
        const item = items.find((candidate) => candidate.key === key);
        if (item?.error) {
          throw new DaprError(500, `getState ${store} failed: ${item.error}`, {
            errorCode: 'ERR_STATE_GET',
            body: item,
          });
        }
        if (item?.data === undefined) return undefined;
        return { value: item.data as never, etag: item.etag ?? '' };
      }),

    saveState: (store, items) =>
      run(`saveState ${store}`, async ({ client, sdk }) => {
        // Never throws: resolves { error } (js-sdk#551).
        const sent = items.map((item) => toSdkItem(item, sdk));
        const { error } = await client.state.save(store, sent);
        if (error) throw error;
      }),

    deleteState: (store, key, { etag } = {}) =>
      run(`deleteState ${store}`, async ({ client }) => {
        // The SDK puts the key into the path as it is; Dapr query-unescapes it (a `+` would become a space).
        const { error } = await client.state.delete(store, encodeURIComponent(key), { etag });
        if (error) throw error;
      }),

    transactState: (store, operations) =>
      run(`transactState ${store}`, ({ client, sdk }) =>
        client.state.transaction(
          store,
          operations.map(({ operation, ...item }) => ({
            operation,
            // The SDK types the etag as { value }, but sends the request as given: Dapr wants a string.
            request: toSdkItem({ value: undefined, ...item }, sdk) as never,
          })),
        ),
      ),

    publish: (pubsub, topic, data, { id, traceparent, metadata, contentType } = {}) =>
      run(`publish ${pubsub}/${topic}`, async ({ client }) => {
        const { error } = await client.pubsub.publish(pubsub, topic, data as object, {
          contentType,
          metadata: {
            ...metadata,
            // docs/dapr-behaviour.md §4.1: overrides of the CloudEvent Dapr generates.
            ...(id ? { 'cloudevent.id': id } : {}),
            ...(traceparent ? { 'cloudevent.traceparent': traceparent } : {}),
          },
        });
        if (error) throw error;
      }),

    publishBulk: (pubsub, topic, entries) =>
      run(`publishBulk ${pubsub}/${topic}`, async ({ client }) => {
        // Not the SDK's publishBulk: it can report success on a 500 and loses the failed entries'
        // ids (js-sdk#703; it looks for `entryID`, Dapr answers `entryId`).
        const body = entries.map(({ id, data, traceparent }) => ({
          entryId: id,
          event: data,
          contentType: 'application/json',
          // docs/dapr-behaviour.md §4.1: an entry's metadata overrides the CloudEvent Dapr generates.
          metadata: {
            'cloudevent.id': id,
            ...(traceparent ? { 'cloudevent.traceparent': traceparent } : {}),
          },
        }));
        const path = `/publish/bulk/${encodeURIComponent(pubsub)}/${encodeURIComponent(topic)}`;
        try {
          await client.http.executeWithApiVersion('v1.0-alpha1', path, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body,
          });
          return [];
        } catch (error) {
          const failed = failedEntries(error, `publishBulk ${pubsub}/${topic}`, entries);
          if (failed) return failed;
          throw error;
        }
      }),

    // Never connected: nothing to stop (and no SDK to load just for that).
    close: () => (closing ??= connected?.then(({ client }) => client.stop()) ?? Promise.resolve()),
  };
}

interface BulkItem {
  key: string;
  data?: unknown;
  etag?: string;
  error?: string;
}

/**
 * The entries a bulk publish's 500 names (`{failedEntries, errorCode}`), or undefined when the call
 * failed as a whole (any other answer, none named, or an entry id that was not sent).
 */
function failedEntries(
  error: unknown,
  call: string,
  entries: BulkPublishEntry[],
): BulkPublishFailure[] | undefined {
  const daprError = toDaprError(error, call);
  if (!(daprError instanceof DaprError) || daprError.status !== 500) return undefined;
  const body = daprError.body as { failedEntries?: unknown } | undefined;
  // A 500 that names no entry says nothing was taken for sure: the whole call failed.
  if (!Array.isArray(body?.failedEntries) || body.failedEntries.length === 0) return undefined;
  const sent = new Set(entries.map((entry) => entry.id));
  const failed: BulkPublishFailure[] = [];
  for (const entry of body.failedEntries as { entryId?: unknown; error?: unknown }[]) {
    if (typeof entry?.entryId !== 'string' || !sent.has(entry.entryId)) return undefined;
    const message = `${call} failed for entry ${entry.entryId}: ${String(entry.error ?? '')}`;
    failed.push({
      id: entry.entryId,
      error: new DaprError(500, message, { errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE', body: entry }),
    });
  }
  return failed;
}

/** Settles with the call, a 504 DaprError after `timeoutMs`, or the signal's reason. */
function withDeadline<T>(
  call: string,
  timeoutMs: number,
  work: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      const message = `${call} failed: no answer from Dapr within ${timeoutMs} ms`;
      reject(new DaprError(504, message, { errorCode: clientErrorCodes.timeout }));
    }, timeoutMs);
    const abort = () => reject(signal?.reason);
    signal?.addEventListener('abort', abort, { once: true });
    work()
      .then(resolve, (error: unknown) => reject(toDaprError(error, call)))
      .finally(() => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
      });
  });
}
