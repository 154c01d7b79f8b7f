import { json, noContent, type ApiRequest, type ApiResponse } from '../api.ts';
import type { SidecarContext } from '../types.ts';
import { isContentType } from './cloudevent.ts';
import type { PubsubComponent } from './component.ts';
import { goMarshal, parsePrecise } from '../go-json.ts';
import { structField, structString, structStringMap } from './go-structs.ts';
import {
  messageBytes,
  publishFailure,
  PublishForbiddenError,
  pubsubError,
  readPublishTarget,
} from './publish-checks.ts';
import type { BulkPublisher } from './publish.ts';

interface BulkEntry {
  entryId: string;
  data: Buffer;
  contentType: string;
  /** undefined when the entry carries none: request metadata is then not applied to it. */
  metadata: Record<string, string> | undefined;
}

/**
 * POST|PUT /v1.0-alpha1/publish/bulk/{pubsub}/{topic...} (dapr:pkg/api/http/http.go
 * onBulkPublish): every entry checked and enveloped first, then published — together, in one
 * broker write; failures come back as `{failedEntries, errorCode}` with 500, naming every entry
 * (docs/dapr-behaviour.md §4.1).
 */
export function bulkPublishRoute(
  context: SidecarContext,
  components: Map<string, PubsubComponent>,
  publish: BulkPublisher,
) {
  return async (request: ApiRequest): Promise<ApiResponse> => {
    const target = readPublishTarget(components, request);
    if ('status' in target) return target;
    const { component, topic } = target;
    const entries = readEntries(context, component, topic, request);
    if (!Array.isArray(entries)) return entries;

    const messages: { entryId: string; data: Buffer; metadata: Record<string, string> }[] = [];
    for (const entry of entries) {
      const metadata = entry.metadata ?? {};
      const data = messageBytes(context.appId, target, request, {
        contentType: entry.contentType,
        body: entry.data,
        metadata,
      });
      if (!Buffer.isBuffer(data)) return data;
      messages.push({ entryId: entry.entryId, data, metadata });
    }

    try {
      await publish(component, topic, messages);
      return noContent();
    } catch (error) {
      if (error instanceof PublishForbiddenError) {
        return publishFailure(component, topic, context.appId, error);
      }
      const message = (error as Error).message;
      const failedEntries = messages.map(({ entryId }) => ({ entryId, error: message }));
      return json(500, { failedEntries, errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE' });
    }
  };
}

function readEntries(
  context: SidecarContext,
  component: PubsubComponent,
  topic: string,
  request: ApiRequest,
): BulkEntry[] | ApiResponse {
  let items: {
    entryId: string;
    contentType: string;
    event: unknown;
    metadata?: Record<string, string>;
  }[];
  try {
    const parsed = parsePrecise(request.body.toString('utf8')) ?? [];
    if (!Array.isArray(parsed)) throw new TypeError('the body is not a JSON array');
    items = parsed.map((item: unknown) => ({
      entryId: structString(item, 'entryId'),
      contentType: structString(item, 'contentType'),
      event: structField(item, 'event'),
      // An entry without metadata gets none at all, not the request's (daprd, docs/dapr-behaviour.md §4.1).
      metadata:
        structField(item, 'metadata') === undefined || structField(item, 'metadata') === null
          ? undefined
          : structStringMap(item, 'metadata'),
    }));
  } catch (error) {
    return pubsubError(
      400,
      'ERR_PUBSUB_EVENTS_SER',
      `error when unmarshaling the request for topic ${topic} pubsub ${component.name}: ${(error as Error).message}`,
      'DAPR_PUBSUB_UNMARSHAL_EVENTS',
      { appID: context.appId },
      { name: component.name },
    );
  }
  const marshalError = (cause: string) => {
    const message = `error marshaling events to bytes for topic ${topic} pubsub ${component.name}. error: ${cause}`;
    // ResourceInfo's description is the whole message, as daprd 1.18.3 answers.
    return pubsubError(
      400,
      'ERR_PUBSUB_EVENTS_SER',
      message,
      'DAPR_PUBSUB_MARSHAL_EVENTS',
      { appID: context.appId, error: cause },
      { name: component.name },
    );
  };
  const entries: BulkEntry[] = [];
  const ids = new Set<string>();
  for (const item of items) {
    let data: Buffer;
    try {
      data = eventBytes(item.event, item.contentType);
    } catch (error) {
      return marshalError((error as Error).message);
    }
    if (item.entryId === '' || ids.has(item.entryId)) {
      return marshalError('entryId is duplicated or not present for entry');
    }
    ids.add(item.entryId);
    entries.push({
      entryId: item.entryId,
      contentType: item.contentType,
      data,
      metadata: item.metadata && { ...request.metadata, ...item.metadata },
    });
  }
  return entries;
}

/** dapr:pkg/api/http ConvertEventToBytes. */
function eventBytes(event: unknown, contentType: string): Buffer {
  const mismatch = 'error: mismatch between contentType and event';
  if (isContentType(contentType, 'application/octet-stream')) {
    if (typeof event !== 'string') throw new Error(mismatch);
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(event)) {
      throw new Error(
        'error: unable to decode base64 application/octect-stream data: illegal base64 data',
      );
    }
    return Buffer.from(event, 'base64');
  }
  if (
    contentType.toLowerCase().startsWith('text/') ||
    isContentType(contentType, 'application/xml')
  ) {
    if (typeof event !== 'string') throw new Error(mismatch);
    return Buffer.from(event);
  }
  if (
    isContentType(contentType, 'application/json') ||
    isContentType(contentType, 'application/cloudevents+json')
  ) {
    return Buffer.from(goMarshal(event));
  }
  throw new Error(mismatch);
}
