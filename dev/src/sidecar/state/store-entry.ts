import type { ApiRequest, ApiResponse, Handler } from '../api.ts';
import type { ComponentResource, EndpointPolicy } from '../types.ts';
import { illegalKey, PermanentError, storeNotConfigured, storeNotFound } from './errors.ts';
import { IllegalKeyError } from './keys.ts';
import type { PostgresStateStore } from './postgres-store.ts';

/** A configured state store as the routes see it. */
export interface StoreEntry {
  name: string;
  component: ComponentResource;
  store: PostgresStateStore;
  /** The stored key for an API key; throws IllegalKeyError (docs/dapr-behaviour.md §3.2). */
  prefixKey(key: string): string;
  /** Resiliency's outbound policy for this component. */
  policy: EndpointPolicy;
}

export interface StateStores {
  appId: string;
  byName: Map<string, StoreEntry>;
}

/** Resolves `{store}` first, with daprd's two lookup errors (docs/dapr-behaviour.md §3.1). */
export function withStore(
  stores: StateStores,
  handler: (request: ApiRequest, entry: StoreEntry) => Promise<ApiResponse>,
): Handler {
  return async (request) => {
    const name = request.params.store!;
    if (stores.byName.size === 0) return storeNotConfigured(name, stores.appId);
    const entry = stores.byName.get(name);
    if (!entry) return storeNotFound(name, stores.appId);
    return handler(request, entry);
  };
}

/** The stored key, or the 400 for an illegal one; `field` is what daprd names in BadRequest. */
export function storedKey(
  entry: StoreEntry,
  key: string,
  field = key,
): { key: string } | { response: ApiResponse } {
  try {
    return { key: entry.prefixKey(key) };
  } catch (error) {
    if (!(error instanceof IllegalKeyError)) throw error;
    // daprd 1.18.3 wraps the store's message as a gRPC status (seen in the daprd lane).
    const message = `api error: code = InvalidArgument desc = ${error.message}`;
    return { response: illegalKey(entry.name, field, message) };
  }
}

/**
 * Runs a store call under the component's outbound policy. Permanent failures (etag mismatch,
 * invalid etag, first-write conflicts, bad input) pass through the policy as results, so it
 * neither retries them nor counts them as failures, then surface here as errors.
 */
export async function outbound<T>(policy: EndpointPolicy, call: () => Promise<T>): Promise<T> {
  if (policy.isEmpty) return call();
  const outcome = await policy.execute(async () => {
    try {
      return { value: await call() };
    } catch (error) {
      if (error instanceof PermanentError) return { error };
      throw error;
    }
  });
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}
