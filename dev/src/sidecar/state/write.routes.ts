import { daprError, noContent, type ApiRequest, type ApiResponse } from '../api.ts';
import { causeOf, EtagError, malformedRequest, stateErrorStatus } from './errors.ts';
import { decodeGoJson } from './go-decoder.ts';
import {
  decodeOperationRequest,
  saveBody,
  toSetRequest,
  transactionBody,
  type DecodedSetRequest,
  type Operation,
  type SetRequest,
} from './requests.ts';
import { outbound, storedKey, type StoreEntry } from './store-entry.ts';

/** POST|PUT /v1.0/state/{store} (docs/dapr-behaviour.md §3.3): items run in parallel, not atomically. */
export async function saveState(request: ApiRequest, entry: StoreEntry): Promise<ApiResponse> {
  const decoded = decodeGoJson<(DecodedSetRequest | undefined)[]>(
    request.body,
    saveBody,
    request.bodyTruncated,
  );
  if (decoded.error !== undefined) return malformedRequest(decoded.error);
  const items: SetRequest[] = [];
  for (const item of (decoded.value ?? []).map(toSetRequest)) {
    if (item.key === '') return malformedRequest('"key" is a required field');
    const stored = storedKey(entry, item.key);
    if ('response' in stored) return stored.response;
    items.push({ ...item, key: stored.key, metadata: { ...item.metadata, ...request.metadata } });
  }
  const results = await Promise.allSettled(
    items.map((item) => outbound(entry.policy, () => entry.store.set(item))),
  );
  const failures = results.flatMap((result) =>
    result.status === 'rejected' ? [result.reason] : [],
  );
  if (failures.length === 0) return noContent();
  const { status, message } = stateErrorStatus(
    items.length === 1 ? failures[0] : bulkFailure(failures),
  );
  return daprError(
    status,
    'ERR_STATE_SAVE',
    `failed saving state in state store ${entry.name}: ${message}`,
  );
}

/**
 * daprd joins the items' errors; when every failure is an etag error, the whole is one too, an
 * invalid etag winning over a mismatch (dapr:pkg/components/state/bulk.go).
 */
function bulkFailure(failures: unknown[]): unknown {
  const joined = failures.map(causeOf).join('\n');
  if (!failures.every((failure) => failure instanceof EtagError)) return new Error(joined);
  const invalid = failures.some((failure) => (failure as EtagError).kind === 'invalid');
  return new EtagError(invalid ? 'invalid' : 'mismatch', joined);
}

/** DELETE /v1.0/state/{store}/{key} (docs/dapr-behaviour.md §3.7); an empty If-Match means no etag. */
export async function deleteState(request: ApiRequest, entry: StoreEntry): Promise<ApiResponse> {
  const key = request.params.key!;
  const stored = storedKey(entry, key);
  if ('response' in stored) return stored.response;
  const ifMatch = request.headers['if-match'];
  const deletion = {
    key: stored.key,
    etag: Array.isArray(ifMatch) ? ifMatch[0] : ifMatch,
    metadata: request.metadata,
    options: {
      concurrency: request.query.get('concurrency') ?? undefined,
      consistency: request.query.get('consistency') ?? undefined,
    },
  };
  try {
    await outbound(entry.policy, () => entry.store.delete(deletion));
    return noContent();
  } catch (error) {
    const { status, message } = stateErrorStatus(error);
    return daprError(
      status,
      'ERR_STATE_DELETE',
      `failed deleting state with key ${key}: ${message}`,
    );
  }
}

interface TransactionBody {
  operations?: ({ operation?: string; request?: unknown } | undefined)[];
}

/**
 * POST|PUT /v1.0/state/{store}/transaction (docs/dapr-behaviour.md §3.8): one DB transaction; any store
 * failure, an etag mismatch included, is a 500 ERR_STATE_TRANSACTION.
 */
export async function executeTransaction(
  request: ApiRequest,
  entry: StoreEntry,
): Promise<ApiResponse> {
  const decoded = decodeGoJson<TransactionBody>(
    request.body,
    transactionBody,
    request.bodyTruncated,
  );
  if (decoded.error !== undefined) {
    return malformedRequest(`failed deserializing HTTP body: ${decoded.error}`);
  }
  const operations: Operation[] = [];
  for (const raw of decoded.value?.operations ?? []) {
    const kind = raw?.operation ?? '';
    if (kind !== 'upsert' && kind !== 'delete') {
      return daprError(
        400,
        'ERR_NOT_SUPPORTED_STATE_OPERATION',
        `operation type ${kind} not supported`,
      );
    }
    const parsed = decodeOperationRequest(raw?.request);
    if ('error' in parsed)
      return malformedRequest(`failed deserializing HTTP body: ${parsed.error}`);
    // daprd names the emptied key in the BadRequest detail (its Go assigns before reporting).
    const stored = storedKey(entry, parsed.request.key, '');
    if ('response' in stored) return stored.response;
    const item = {
      ...parsed.request,
      key: stored.key,
      metadata: { ...parsed.request.metadata, ...request.metadata },
    };
    operations.push({ operation: kind, request: item } as Operation);
  }
  if (operations.length === 0) return noContent();
  try {
    await outbound(entry.policy, () => entry.store.multi(operations));
    return noContent();
  } catch (error) {
    const message = `error while executing state transaction: ${causeOf(error)}`;
    return daprError(500, 'ERR_STATE_TRANSACTION', message);
  }
}
