import { randomUUID } from 'node:crypto';
import { parseDuration } from '../durations.ts';
import { goMarshal, parsePrecise } from '../go-json.ts';

/** The CloudEvent 1.0 envelope daprd wraps published data in (docs/dapr-behaviour.md §4.2). */
export type CloudEvent = Record<string, unknown>;

export interface PublishInput {
  appId: string;
  pubsubName: string;
  topic: string;
  /** The request's Content-Type header, verbatim (undefined or "" = text/plain). */
  contentType: string | undefined;
  body: Buffer;
  /** The request's traceparent/tracestate headers ("" without a span). */
  traceparent: string;
  tracestate: string;
  /** Publish metadata (`metadata.<k>` query parameters). */
  metadata: Record<string, string>;
}

/** Content type check of contrib:contenttype isContentType (case-insensitive, `;params` allowed). */
export function isContentType(contentType: string | undefined, expected: string): boolean {
  const lower = (contentType ?? '').toLowerCase();
  const semicolon = lower.indexOf(';');
  return lower === expected || (semicolon >= 0 && lower.slice(0, semicolon) === expected);
}

/**
 * The envelope for a publish (dapr:pkg/runtime/pubsub/cloudevents.go NewCloudEvent): the caller's
 * own CloudEvent when the body is `application/cloudevents+json`, else a new one around the body
 * with `metadata.cloudevent.*` overrides. Throws when the caller's CloudEvent is not a JSON object.
 */
export function createEnvelope(input: PublishInput, now = new Date()): CloudEvent {
  const envelope = isContentType(input.contentType, 'application/cloudevents+json')
    ? fromCloudEvent(input, now)
    : newEnvelope(input, now);
  applyTtl(envelope, input.metadata, now);
  return envelope;
}

export const envelopeBytes = (envelope: CloudEvent): Buffer => Buffer.from(goMarshal(envelope));

function newEnvelope(input: PublishInput, now: Date): CloudEvent {
  const override = (field: string) => metadataIgnoringCase(input.metadata, `cloudevent.${field}`);
  // mapstructure.WeakDecode: an override replaces the value, and an empty one falls back to the
  // envelope default (a new id, source "Dapr"), as in daprd.
  const traceparent = override('traceparent') || (override('traceid') ?? input.traceparent);
  const contentType = input.contentType || 'text/plain';
  const envelope: CloudEvent = {
    id: (override('id') ?? randomUUID()) || randomUUID(),
    specversion: '1.0',
    datacontenttype: contentType,
    source: (override('source') ?? input.appId) || 'Dapr',
    type: override('type') || 'com.dapr.event.sent',
    topic: input.topic,
    pubsubname: input.pubsubName,
    traceid: traceparent,
    traceparent,
    tracestate: override('tracestate') ?? input.tracestate,
    time: rfc3339Local(now),
    ...dataField(contentType, input.body),
  };
  const subject = override('subject');
  if (subject) envelope.subject = subject;
  return envelope;
}

function dataField(contentType: string, body: Buffer): CloudEvent {
  if (isContentType(contentType, 'application/json')) {
    try {
      return { data: parsePrecise(body.toString('utf8')) };
    } catch {
      return { data: body.toString('utf8') };
    }
  }
  if (isContentType(contentType, 'application/octet-stream')) {
    return { data_base64: body.toString('base64') };
  }
  return { data: body.toString('utf8') };
}

/** contrib:pubsub/envelope.go FromCloudEvent: the caller's fields kept, routing fields forced. */
function fromCloudEvent(input: PublishInput, now: Date): CloudEvent {
  const parsed = parsePrecise(input.body.toString('utf8'));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TypeError('the cloudevent body is not a JSON object');
  }
  const event = parsed as CloudEvent;
  event.topic = input.topic;
  event.pubsubname = input.pubsubName;
  const defaults: CloudEvent = {
    source: 'Dapr',
    type: 'com.dapr.event.sent',
    specversion: '1.0',
    time: rfc3339Local(now),
    traceid: input.traceparent,
    traceparent: input.traceparent,
    tracestate: input.tracestate,
  };
  for (const [field, value] of Object.entries(defaults)) {
    if (event[field] === undefined || event[field] === null) event[field] = value;
  }
  return event;
}

/**
 * `ttlInSeconds` for a broker without native TTL (redis): an `expiration` the subscriber side
 * checks (contrib:pubsub/envelope.go ApplyMetadata; a bad value is ignored, as there).
 */
export function applyTtl(envelope: CloudEvent, metadata: Record<string, string>, now: Date): void {
  const ttlMs = parseTtl(metadata.ttlInSeconds);
  if (ttlMs === undefined) return;
  envelope.expiration = new Date(now.getTime() + ttlMs).toISOString().slice(0, 19) + 'Z';
}

function parseTtl(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^[-+]?\d+$/.test(value)) return Number(value) > 0 ? Number(value) * 1000 : undefined;
  try {
    const ms = parseDuration(value);
    return ms > 0 ? ms : undefined;
  } catch {
    return undefined;
  }
}

/** contrib:pubsub/envelope.go HasExpired: an unparseable expiration never expires. */
export function hasExpired(event: CloudEvent, now = new Date()): boolean {
  const expiration = event.expiration;
  if (typeof expiration !== 'string' || expiration === '') return false;
  const at = Date.parse(expiration);
  return !Number.isNaN(at) && at < now.getTime();
}

/** A subscription with `rawPayload=true` gets a Dapr-made envelope (contrib FromRawPayload). */
export function rawPayloadEvent(data: Buffer, topic: string, pubsubName: string): CloudEvent {
  return {
    id: randomUUID(),
    specversion: '1.0',
    datacontenttype: 'application/octet-stream',
    source: 'Dapr',
    type: 'com.dapr.event.sent',
    topic,
    pubsubname: pubsubName,
    data_base64: data.toString('base64'),
  };
}

/** contrib:metadata IsRawPayload: Go's strconv.ParseBool; throws on anything else. */
export function isRawPayload(metadata: Record<string, string>): boolean {
  const value = metadata.rawPayload;
  if (!value) return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new TypeError(`rawPayload value must be a valid boolean: actual is '${value}'`);
}

function metadataIgnoringCase(metadata: Record<string, string>, name: string): string | undefined {
  for (const [key, value] of Object.entries(metadata)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/** Go's time.Format(time.RFC3339) in the local zone: second precision, "Z" for UTC. */
function rfc3339Local(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const local =
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const offset = -date.getTimezoneOffset();
  if (offset === 0) return `${local}Z`;
  const abs = Math.abs(offset);
  return `${local}${offset > 0 ? '+' : '-'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
