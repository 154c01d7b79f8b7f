import { daprError, json, noContent, type ApiResponse, type Route } from './api.ts';
import type { BuildingBlock, SidecarContext } from './types.ts';

/** The daprd release whose behaviour the dev sidecar reproduces (docs/dapr-behaviour.md). */
export const emulatedDaprVersion = '1.18.3';

interface AppSettings {
  appId: string;
  appPort?: number;
  appHost?: string;
}

/**
 * Health, metadata and shutdown (docs/dapr-behaviour.md §5). Components are initialised before the API
 * listens, so outbound health is ready as soon as anything answers.
 */
export function healthRoutes(
  options: AppSettings,
  appIsReady: () => boolean,
  metadata: () => unknown,
  extended: Record<string, string>,
  shutdown: () => void,
): Route[] {
  return [
    {
      methods: ['GET'],
      pattern: '/v1.0/healthz',
      handler: async (request): Promise<ApiResponse> => {
        const appid = request.query.get('appid');
        if (appid !== null && appid !== options.appId) {
          return daprError(500, 'ERR_HEALTH_APPID_NOT_MATCH', 'dapr app-id does not match');
        }
        if (options.appPort !== undefined && !appIsReady()) {
          // daprd 1.18.3 names its runtime, whose start waits for the app (the daprd lane).
          return daprError(500, 'ERR_HEALTH_NOT_READY', 'dapr is not ready: [runtime]');
        }
        return noContent();
      },
    },
    // Components are initialised before the API listens: outbound is ready as soon as we answer.
    { methods: ['GET'], pattern: '/v1.0/healthz/outbound', handler: async () => noContent() },
    { methods: ['GET'], pattern: '/v1.0/metadata', handler: async () => json(200, metadata()) },
    {
      methods: ['PUT'],
      pattern: '/v1.0/metadata/{key}',
      handler: async (request) => {
        extended[request.params.key!] = request.body.toString('utf8');
        return noContent();
      },
    },
    {
      methods: ['POST'],
      pattern: '/v1.0/shutdown',
      handler: async () => {
        shutdown();
        return noContent();
      },
    },
  ];
}

/** GET /v1.0/metadata (docs/dapr-behaviour.md §5): empty fields omitted; the JS SDK waits on this. */
export function metadataBody(
  options: AppSettings,
  context: SidecarContext,
  blocks: BuildingBlock[],
  extended: Record<string, string>,
) {
  const parts = blocks.map((block) => block.metadata?.() ?? {});
  const collect = (field: string) => parts.flatMap((part) => (part[field] as unknown[]) ?? []);
  const features = context.resources.configuration?.features ?? [];
  const body: Record<string, unknown> = {
    id: options.appId,
    runtimeVersion: emulatedDaprVersion,
    enabledFeatures: features.filter((feature) => feature.enabled).map((feature) => feature.name),
    components: collect('components'),
    extended: { 'sidecart-dev-sidecar': 'true', ...extended },
    subscriptions: collect('subscriptions'),
    appConnectionProperties: {
      ...(options.appPort === undefined ? {} : { port: options.appPort }),
      protocol: 'http',
      channelAddress: options.appHost ?? '127.0.0.1',
    },
  };
  for (const [key, value] of Object.entries(body)) {
    if (Array.isArray(value) && value.length === 0) delete body[key];
  }
  return body;
}
