import { http } from '../node-http.ts';
import type { AppChannel, AppResponse } from '../types.ts';
import type { CloudEvent } from './cloudevent.ts';

export interface Delivery {
  path: string;
  pubsubName: string;
  /** The stored CloudEvent bytes, sent as they are. */
  body: Buffer;
  event: CloudEvent;
  /** Publish metadata, echoed as headers. */
  metadata: Record<string, string>;
}

/** What the app's answer means (docs/dapr-behaviour.md §4.5); `retry` carries an HTTP status when any. */
export type Outcome = { kind: 'success' } | { kind: 'drop' } | { kind: 'retry'; status: number };

/** A retriable failure with no HTTP status (RETRY, an unknown status): any retry policy applies. */
export class RetriableDeliveryError extends Error {}

/**
 * POSTs one event to the app (dapr:pkg/runtime/subscription/postman/http Deliver). Connection
 * errors, RETRY and unknown statuses throw RetriableDeliveryError or the channel's error; other
 * failing HTTP statuses come back as `retry` with the status, for a retry policy's `matching`.
 */
export async function deliver(
  app: AppChannel,
  delivery: Delivery,
  signal: AbortSignal,
): Promise<Outcome> {
  const path = delivery.path.startsWith('/') ? delivery.path : `/${delivery.path}`;
  const response = await app.request('POST', path, headers(delivery), delivery.body, signal);
  return outcomeOf(response, delivery.event.id);
}

/** Metadata keys that would corrupt the request if sent as headers (Go's client ignores them). */
const framingHeaders = new Set([
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'host',
]);

function headers(delivery: Delivery): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries({
    ...delivery.metadata,
    pubsubName: delivery.pubsubName,
  })) {
    if (framingHeaders.has(name.toLowerCase())) continue;
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
      result[name] = value;
    } catch {
      // Metadata that cannot be a header is left out rather than failing the delivery.
    }
  }
  const traceparent =
    stringField(delivery.event, 'traceparent') || stringField(delivery.event, 'traceid');
  // daprd rebuilds the span from traceparent alone (pkg/runtime/pubsub/subscriptions.go), so the
  // envelope's tracestate never becomes a header.
  if (traceparent) result.traceparent = traceparent;
  result['content-type'] = 'application/cloudevents+json';
  return result;
}

function stringField(event: CloudEvent, name: string): string {
  const value = event[name];
  return typeof value === 'string' ? value : '';
}

function outcomeOf(response: AppResponse, eventId: unknown): Outcome {
  if (response.status === 404) return { kind: 'drop' };
  if (response.status < 200 || response.status > 299) {
    return { kind: 'retry', status: response.status };
  }
  const status = appStatus(response.body);
  if (status === undefined || status === '' || status === 'SUCCESS') return { kind: 'success' };
  if (status === 'DROP') return { kind: 'drop' };
  if (status === 'RETRY') {
    throw new RetriableDeliveryError(
      `RETRY status returned from app while processing pub/sub event ${String(eventId)}`,
    );
  }
  throw new RetriableDeliveryError(
    `unknown status returned from app while processing pub/sub event ${String(eventId)}, status: ${status}`,
  );
}

/**
 * The `status` of a 2xx body decoded into contrib's AppResponse: an empty or non-JSON body, a
 * non-object or a non-string status means "no status" (success); the key matches ignoring case.
 */
function appStatus(body: Buffer): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const object = parsed as Record<string, unknown>;
  const key =
    'status' in object ? 'status' : Object.keys(object).find((k) => k.toLowerCase() === 'status');
  const status = key === undefined ? undefined : object[key];
  return typeof status === 'string' ? status : undefined;
}
