import {
  errorInfo,
  resourceInfo,
  richError,
  type ApiRequest,
  type ApiResponse,
  type ErrorDetail,
} from '../api.ts';
import { compareGoKeys } from '../go-json.ts';
import { createEnvelope, envelopeBytes, isRawPayload } from './cloudevent.ts';
import type { PubsubComponent } from './component.ts';

/** Publishing a topic the component's scoping denies this app (runtime NotAllowedError). */
export class PublishForbiddenError extends Error {}

/** Go map keys come out sorted in daprd's JSON. */
const sorted = (map: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(map).sort(([a], [b]) => compareGoKeys(a, b)));

/**
 * A rich pub/sub error (dapr:pkg/api/errors/pubsub.go): ResourceInfo (when there is a resource),
 * then ErrorInfo — the order daprd 1.18.3 answers with (seen in the daprd lane).
 */
export function pubsubError(
  status: number,
  errorCode: string,
  message: string,
  reason: string,
  metadata: Record<string, string>,
  resource?: { name: string; description?: string },
): ApiResponse {
  const details: ErrorDetail[] = [];
  if (resource) {
    details.push(resourceInfo('pubsub', resource.name, resource.description ?? message));
  }
  details.push(errorInfo(reason, sorted(metadata)));
  return richError(status, errorCode, message, details);
}

export interface PublishTarget {
  component: PubsubComponent;
  topic: string;
  rawPayload: boolean;
}

/** What both publish routes read first: the component and topic, then the rawPayload flag. */
export function readPublishTarget(
  components: Map<string, PubsubComponent>,
  request: ApiRequest,
): PublishTarget | ApiResponse {
  const component = findComponent(components, request);
  if ('status' in component) return component;
  const rawPayload = readRawPayload(request, component.name);
  if (typeof rawPayload !== 'boolean') return rawPayload;
  return { component, topic: request.params.topic!, rawPayload };
}

/**
 * The bytes one message is published as: itself with rawPayload, else its CloudEvent envelope;
 * daprd's 500 when the envelope cannot be made.
 */
export function messageBytes(
  appId: string,
  target: PublishTarget,
  request: ApiRequest,
  message: { contentType: string | undefined; body: Buffer; metadata: Record<string, string> },
): Buffer | ApiResponse {
  if (target.rawPayload) return message.body;
  try {
    return envelopeBytes(
      createEnvelope({
        appId,
        pubsubName: target.component.name,
        topic: target.topic,
        ...message,
        ...traceContext(request),
      }),
    );
  } catch (error) {
    return pubsubError(
      500,
      'ERR_PUBSUB_CLOUD_EVENTS_SER',
      'cannot create cloudevent',
      'DAPR_PUBSUB_CLOUD_EVENT_CREATION',
      { appID: appId, error: (error as Error).message },
      { name: target.component.name },
    );
  }
}

/** The checks every publish route makes first (validateAndGetPubsubAndTopic). */
function findComponent(
  components: Map<string, PubsubComponent>,
  request: ApiRequest,
): PubsubComponent | ApiResponse {
  const name = request.params.pubsub ?? '';
  const topic = request.params.topic ?? '';
  const { metadata } = request;
  // daprd 1.18's `pubsubAdapter == nil` check (400 ERR_PUBSUB_NOT_CONFIGURED) never fires: the
  // runtime always has an adapter, so no component at all is an unknown name like any other.
  if (name === '') {
    return pubsubError(
      404,
      'ERR_PUBSUB_EMPTY',
      'pubsub name is empty',
      'DAPR_PUBSUB_NAME_EMPTY',
      metadata,
      { name },
    );
  }
  const component = components.get(name);
  if (!component) {
    return pubsubError(
      404,
      'ERR_PUBSUB_NOT_FOUND',
      `pubsub ${name} is not found`,
      'DAPR_PUBSUB_NOT_FOUND',
      metadata,
    );
  }
  if (topic === '') {
    return pubsubError(
      404,
      'ERR_TOPIC_EMPTY',
      `topic is empty in pubsub ${name}`,
      'DAPR_PUBSUB_TOPIC_NAME_EMPTY',
      metadata,
      { name },
    );
  }
  return component;
}

/** rawPayload from the request metadata; a bad value is a 400 (docs/dapr-behaviour.md §4.1). */
function readRawPayload(request: ApiRequest, name: string): boolean | ApiResponse {
  try {
    return isRawPayload(request.metadata);
  } catch (error) {
    return pubsubError(
      400,
      'ERR_PUBSUB_REQUEST_METADATA',
      `failed deserializing metadata. Error: ${(error as Error).message}`,
      'DAPR_PUBSUB_METADATA_DESERIALIZATION',
      request.metadata,
      { name },
    );
  }
}

/** What a failed broker publish answers: 403 for scoping, else 500. */
export function publishFailure(
  component: PubsubComponent,
  topic: string,
  appId: string,
  error: unknown,
): ApiResponse {
  const cause = error instanceof Error ? error.message : String(error);
  const metadata = { error: cause, topic };
  if (error instanceof PublishForbiddenError) {
    return pubsubError(
      403,
      'ERR_PUBSUB_FORBIDDEN',
      `topic ${topic} is not allowed for app id ${appId}`,
      'DAPR_PUBSUB_FORBIDDEN',
      metadata,
      { name: component.name },
    );
  }
  return pubsubError(
    500,
    'ERR_PUBSUB_PUBLISH_MESSAGE',
    `error when publishing to topic ${topic} in pubsub ${component.name}: ${cause}`,
    'DAPR_PUBSUB_PUBLISH_MESSAGE',
    metadata,
    { name: component.name },
  );
}

/** The request's trace context, as daprd puts it in the envelope ("" without one). */
function traceContext(request: ApiRequest): { traceparent: string; tracestate: string } {
  const header = (name: string) => {
    const value = request.headers[name];
    return (Array.isArray(value) ? value[0] : value) ?? '';
  };
  return { traceparent: header('traceparent'), tracestate: header('tracestate') };
}
