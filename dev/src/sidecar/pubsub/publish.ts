import { noContent, type ApiRequest, type ApiResponse } from '../api.ts';
import type { SidecarContext } from '../types.ts';
import { appendEntries, type NewEntry } from './broker.ts';
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

/** Publishes a bulk publish's entries together: all of them, or none (the error says why). */
export type BulkPublisher = (
  component: PubsubComponent,
  topic: string,
  entries: readonly NewEntry[],
) => Promise<void>;

/**
 * The runtime's publish path, shared by the API and dead-lettering: topic scoping, then the
 * component's outbound resiliency policy around the broker write (XADD). `many` writes a bulk
 * publish's entries in one statement: daprd publishes them one by one to pubsub.redis, which
 * only the failure of a part of them could tell apart (then every entry is reported failed).
 */
export function createPublisher(context: SidecarContext): { one: Publisher; many: BulkPublisher } {
  const many: BulkPublisher = async (component, topic, entries) => {
    if (!isTopicAllowed(component, context.appId, topic, 'publish')) {
      throw new PublishForbiddenError(`topic ${topic} is not allowed for app id ${context.appId}`);
    }
    if (entries.length === 0) return;
    const policy = context.resiliency.componentOutbound(component.name, 'pubsub');
    await policy.execute(async () => {
      try {
        await appendEntries(context.pool, { component: component.name, topic }, entries, {
          maxLen: component.maxLenApprox,
          ttlMs: component.streamTtlMs,
        });
      } catch (error) {
        throw new Error(`redis streams: error from publish: ${(error as Error).message}`);
      }
    });
  };
  return {
    one: (component, topic, data, metadata) => many(component, topic, [{ data, metadata }]),
    many,
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
