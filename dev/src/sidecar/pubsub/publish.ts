import { noContent, type ApiRequest, type ApiResponse } from '../api.ts';
import type { SidecarContext } from '../types.ts';
import { appendEntry } from './broker.ts';
import { createEnvelope, envelopeBytes } from './cloudevent.ts';
import { isTopicAllowed, type PubsubComponent } from './component.ts';
import {
  findComponent,
  publishFailure,
  PublishForbiddenError,
  pubsubError,
  readRawPayload,
  traceContext,
} from './publish-checks.ts';

export type Publisher = (
  component: PubsubComponent,
  topic: string,
  data: Buffer,
  metadata: Record<string, string>,
) => Promise<void>;

/**
 * The runtime's publish path, shared by the API and dead-lettering: topic scoping, then the
 * component's outbound resiliency policy around the broker write (XADD).
 */
export function createPublisher(context: SidecarContext): Publisher {
  return async (component, topic, data, metadata) => {
    if (!isTopicAllowed(component, context.appId, topic, 'publish')) {
      throw new PublishForbiddenError(`topic ${topic} is not allowed for app id ${context.appId}`);
    }
    const policy = context.resiliency.componentOutbound(component.name, 'pubsub');
    await policy.execute(async () => {
      try {
        await appendEntry(context.pool, { component: component.name, topic }, data, metadata, {
          maxLen: component.maxLenApprox,
          ttlMs: component.streamTtlMs,
        });
      } catch (error) {
        throw new Error(`redis streams: error from publish: ${(error as Error).message}`);
      }
    });
  };
}

/** POST|PUT /v1.0/publish/{pubsub}/{topic...} (dapr:pkg/api/http/http.go onPublish). */
export function publishRoute(
  context: SidecarContext,
  components: Map<string, PubsubComponent>,
  publish: Publisher,
) {
  return async (request: ApiRequest): Promise<ApiResponse> => {
    const component = findComponent(components, request);
    if ('status' in component) return component;
    const topic = request.params.topic!;
    const rawPayload = readRawPayload(request, component.name);
    if (typeof rawPayload !== 'boolean') return rawPayload;
    let data = request.body;
    if (!rawPayload) {
      try {
        const envelope = createEnvelope({
          appId: context.appId,
          pubsubName: component.name,
          topic,
          contentType: request.headers['content-type'],
          body: request.body,
          metadata: request.metadata,
          ...traceContext(request),
        });
        data = envelopeBytes(envelope);
      } catch (error) {
        return pubsubError(
          500,
          'ERR_PUBSUB_CLOUD_EVENTS_SER',
          'cannot create cloudevent',
          'DAPR_PUBSUB_CLOUD_EVENT_CREATION',
          { appID: context.appId, error: (error as Error).message },
          { name: component.name },
        );
      }
    }
    try {
      await publish(component, topic, data, request.metadata);
    } catch (error) {
      context.log.debug({ err: error }, 'publish failed');
      return publishFailure(component, topic, context.appId, error);
    }
    return noContent();
  };
}
