import { daprError, noContent, type ApiRequest, type ApiResponse } from '../api.ts';
import { goCompact, goMarshal } from '../go-json.ts';
import { causeOf, malformedRequest } from './errors.ts';
import { decodeGoJson } from './go-decoder.ts';
import { originalKey } from './keys.ts';
import type { StoredState } from './postgres-store.ts';
import { bulkGetBody } from './requests.ts';
import { outbound, storedKey, type StoreEntry } from './store-entry.ts';

/** Go's `time.RFC3339` in UTC: whole seconds and a `Z`. */
const rfc3339 = (date: Date) => date.toISOString().replace(/\.\d+Z$/, 'Z');

/** GET /v1.0/state/{store}/{key} (docs/dapr-behaviour.md §3.5). */
export async function getState(request: ApiRequest, entry: StoreEntry): Promise<ApiResponse> {
  const key = request.params.key!;
  const stored = storedKey(entry, key);
  if ('response' in stored) return stored.response;
  let item: StoredState | undefined;
  try {
    item = await outbound(entry.policy, () => entry.store.get(stored.key));
  } catch (error) {
    const message = `fail to get ${key} from state store ${entry.name}: ${causeOf(error)}`;
    return daprError(500, 'ERR_STATE_GET', message);
  }
  if (!item) return noContent();
  const headers: Record<string, string> = { 'content-type': 'application/json', etag: item.etag };
  if (item.expiresAt) headers['metadata.ttlExpireTime'] = rfc3339(item.expiresAt);
  return { status: 200, headers, body: item.data };
}

interface BulkGetRequest {
  keys?: string[];
  metadata?: Record<string, string>;
}

/** POST|PUT /v1.0/state/{store}/bulk (docs/dapr-behaviour.md §3.6): found rows first, then the missing. */
export async function getBulkState(request: ApiRequest, entry: StoreEntry): Promise<ApiResponse> {
  const decoded = decodeGoJson<BulkGetRequest>(request.body, bulkGetBody, request.bodyTruncated);
  if (decoded.error !== undefined) {
    return malformedRequest(`failed deserializing HTTP body: ${decoded.error}`);
  }
  const keys = decoded.value?.keys ?? [];
  const storedKeys: string[] = [];
  for (const key of keys) {
    const stored = storedKey(entry, key);
    if ('response' in stored) return stored.response;
    storedKeys.push(stored.key);
  }
  let found: StoredState[] = [];
  try {
    if (storedKeys.length > 0)
      found = await outbound(entry.policy, () => entry.store.bulkGet(storedKeys));
  } catch (error) {
    return daprError(500, 'ERR_STATE_BULK_GET', causeOf(error));
  }
  const foundKeys = new Set(found.map((item) => item.key));
  const missing = storedKeys.filter((key) => !foundKeys.has(key));
  const items = [...found.map(encodeFound), ...missing.map((key) => encodeKey(key))];
  // daprd answers one entry per requested key: duplicates leave zero-valued entries at the end.
  while (items.length < keys.length) items.push('{"key":""}');
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: `[${items.join(',')}]\n`,
  };
}

const encodeKey = (stored: string, rest = '') => `{"key":${goMarshal(originalKey(stored))}${rest}}`;

/** A BulkGetResponse as Go's encoder writes it: `data` is raw JSON, re-compacted (§3.6). */
function encodeFound(item: StoredState): string {
  let rest = '';
  if (item.data.length > 0) rest += `,"data":${goCompact(item.data.toString('utf8'))}`;
  rest += `,"etag":${goMarshal(item.etag)}`;
  if (item.expiresAt) rest += `,"metadata":{"ttlExpireTime":"${rfc3339(item.expiresAt)}"}`;
  return encodeKey(item.key, rest);
}
