import { noContent, type ApiRequest, type ApiResponse } from '../api.ts';
import type { SidecarContext } from '../types.ts';
import { appendEntry } from './broker.ts';
import { isTopicAllowed, type PubsubComponent } from './component.ts';
import {
  messageBytes,
  publishFailure,
  PublishForbiddenError,
  readPublishTarget,
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
    const target = readPublishTarget(components, request);
    if ('status' in target) return target;
    const { component, topic } = target;
    const data = messageBytes(context.appId, target, request, {
      contentType: request.headers['content-type'],
      body: request.body,
      metadata: request.metadata,
    });
    if (!Buffer.isBuffer(data)) return data;
    try {
      await publish(component, topic, data, request.metadata);
    } catch (error) {
      context.log.debug({ err: error }, 'publish failed');
      return publishFailure(component, topic, context.appId, error);
    }
    return noContent();
  };
}
