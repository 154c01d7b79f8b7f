import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from './node-http.ts';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@sidecart/chassis/logger';
import pg from 'pg';
import { daprError, send, type ApiRequest } from './api.ts';
import { healthRoutes, metadataBody } from './health.ts';
import { createAppChannel, type StreamingAppChannel } from './app-channel.ts';
import { createInvocation } from './invocation.ts';
import { privateInternalToken } from './invocation/internal-auth.ts';
import { createPubsubApi } from './pubsub/index.ts';
import { createResiliency } from './resiliency.ts';
import { BadEscapeError, cleanPath, Router } from './router.ts';
import { createStateApi } from './state/index.ts';
import type { BuildingBlock, Resources, SidecarContext } from './types.ts';

/** daprd's `--max-body-size` default (docs/dapr-behaviour.md §1). */
const maxBodyBytes = 4 * 1024 * 1024;

export interface SidecarOptions {
  appId: string;
  namespace?: string;
  /** Among the app's replicas (the pod name in k8s); random when absent. */
  instanceId?: string;
  /** The Dapr HTTP API port (DAPR_HTTP_PORT); 0 = a free one. */
  httpPort: number;
  /** The sidecar-to-sidecar port (daprd's 50002); 0 = a free one. */
  internalPort: number;
  /** The app's port (daprd `--app-port`); absent = no app, as daprd without one. */
  appPort?: number;
  appHost?: string;
  /** DAPR_API_TOKEN: required from the app on every call but the health checks. */
  apiToken?: string;
  /** APP_API_TOKEN: sent to the app on every call the sidecar makes to it. */
  appApiToken?: string;
  /**
   * Shared by every sidecar of a stack: sidecar-to-sidecar calls must carry it (daprd: mTLS).
   * Absent = one of its own, so no other sidecar can call this one.
   */
  internalToken?: string;
  /** Folders with Component, Resiliency, Configuration and Subscription YAML. */
  resourcesPaths: string[];
  /**
   * The resources already read from `resourcesPaths` (main.ts reads them in a short-lived child
   * process); absent = read here.
   */
  resources?: Resources;
  /** The Configuration to apply (k8s annotation dapr.io/config). */
  configuration?: string;
  /** JSON `{secret: {key: value}}` standing in for the kubernetes secret store. */
  secretsFile?: string;
  /** The environment `envRef` metadata reads from. */
  env?: Record<string, string | undefined>;
  /** The dev stack's own database: the name registry and the pub/sub broker. */
  databaseUrl: string;
  log: Logger;
  /** POST /v1.0/shutdown was called (the process entry point exits). */
  onShutdown?: () => void;
}

export interface RunningSidecar {
  httpPort: number;
  internalPort: number;
  url: string;
  /** Resolves once the app is reachable and subscriptions are read (never without an app). */
  appReady: Promise<void>;
  close(): Promise<void>;
}

/**
 * One dev sidecar: the Dapr HTTP API on 127.0.0.1, in front of one app replica. Components are
 * initialised before the API listens (so /v1.0/healthz/outbound is ready at once); the app is
 * awaited afterwards, as daprd does, so the app may call Dapr while it starts.
 */
export async function startSidecar(options: SidecarOptions): Promise<RunningSidecar> {
  const { appId, log } = options;
  const resources = options.resources ?? (await readResources(options));
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10 });
  pool.on('error', (error) => log.warn({ err: error }, 'idle database connection failed'));
  const app = createAppChannel({
    host: options.appHost ?? '127.0.0.1',
    port: options.appPort ?? 0,
    appApiToken: options.appApiToken,
  });
  const context: SidecarContext = {
    appId,
    instanceId: options.instanceId ?? `${appId}-${randomBytes(4).toString('hex')}`,
    namespace: options.namespace,
    resources,
    resiliency: createResiliency(resources.resiliencies, appId),
    pool,
    app,
    log,
  };
  const blocks: BuildingBlock[] = [];
  try {
    blocks.push(await createStateApi(context), await createPubsubApi(context));
    const invocation = await createInvocation(context, {
      internalPort: options.internalPort,
      apiToken: options.apiToken,
      internalToken: options.internalToken ?? privateInternalToken(),
    });
    blocks.push(invocation);
    return await serveApi(options, context, blocks, invocation, app);
  } catch (error) {
    await Promise.allSettled(blocks.map((block) => block.close()));
    await pool.end();
    throw error;
  }
}

/** Loaded on demand: yaml and zod stay out of a process that was handed its resources. */
async function readResources(options: SidecarOptions): Promise<Resources> {
  const { loadResources } = await import('./resources.ts');
  return loadResources(options.resourcesPaths, {
    appId: options.appId,
    namespace: options.namespace,
    secretsFile: options.secretsFile,
    env: options.env,
    configuration: options.configuration,
  });
}

async function serveApi(
  options: SidecarOptions,
  context: SidecarContext,
  blocks: BuildingBlock[],
  invocation: Awaited<ReturnType<typeof createInvocation>>,
  appChannel: StreamingAppChannel,
): Promise<RunningSidecar> {
  const { log } = context;
  const extended: Record<string, string> = {};
  const lifecycle = new AbortController();
  let appIsReady = false;

  const metadata = () => metadataBody(options, context, blocks, extended);
  const health = healthRoutes(
    options,
    () => appIsReady,
    metadata,
    extended,
    () => {
      setImmediate(() => options.onShutdown?.());
    },
  );
  const routes = [...health, ...blocks.flatMap((block) => block.routes)];
  const router = new Router(routes);
  const readsTruncatedBody = new Set(
    routes.filter((route) => route.readsTruncatedBody).map((route) => route.handler),
  );

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log.error({ err: error, url: request.url }, 'sidecar request failed');
      if (!response.headersSent) {
        send(response, daprError(500, 'ERR_INTERNAL', 'internal error in the dev sidecar'));
      } else response.destroy();
    });
  });
  // daprd's server has a 10 s read-header timeout and no other (docs/dapr-behaviour.md §2.5).
  server.headersTimeout = 10_000;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 60_000;

  /** A `%` without two hex digits after it: Go's url.ParseRequestURI refuses the path. */
  const malformedEscape = /%(?![0-9a-fA-F]{2})/;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = cleanPath(queryAt === -1 ? url : url.slice(0, queryAt));
    const method = request.method ?? 'GET';
    if (malformedEscape.test(queryAt === -1 ? url : url.slice(0, queryAt))) {
      // Go's server cannot parse such a request line: it answers before any handler (so before
      // the token check) and closes the connection.
      response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      return void response.end('400 Bad Request');
    }
    if (!tokenAccepted(options.apiToken, request, method, path)) {
      response.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
      return void response.end('invalid api token\n');
    }
    // Removed only where enforced: otherwise it travels on with the request (docs/dapr-behaviour.md §2.2).
    if (options.apiToken) delete request.headers['dapr-api-token'];
    let match;
    try {
      match = router.match(method, path);
    } catch (error) {
      if (!(error instanceof BadEscapeError)) throw error;
      response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      return void response.end(error.message);
    }
    if (!match) return invocation.fallback(request, response, path);
    const { body, truncated } = await readBody(request);
    if (truncated && !readsTruncatedBody.has(match.handler)) {
      response.writeHead(413, { 'content-type': 'text/plain; charset=utf-8' });
      return void response.end('http: request body too large');
    }
    const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
    const apiRequest: ApiRequest = {
      method,
      path,
      params: match.params,
      query,
      headers: request.headers,
      body,
      ...(truncated ? { bodyTruncated: true } : {}),
      metadata: queryMetadata(query),
    };
    send(response, await match.handler(apiRequest));
  }

  server.listen(options.httpPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const httpPort = (server.address() as AddressInfo).port;
  log.info({ httpPort, internalPort: invocation.internalPort }, 'dapr API listening');

  const appReady = (async () => {
    if (options.appPort === undefined) return new Promise<void>(() => {});
    await context.app.waitUntilReachable(lifecycle.signal);
    for (const block of blocks) {
      // A close() meanwhile must not be followed by a registration or a consumer start.
      lifecycle.signal.throwIfAborted();
      await block.onAppReady?.();
    }
    appIsReady = true;
    log.info({ appPort: options.appPort }, 'app is reachable; subscriptions started');
  })();
  appReady.catch((error: unknown) => {
    if (lifecycle.signal.aborted) return;
    // Unregistered and without subscriptions it would look alive and serve nothing: exit, so the
    // pair restarts (a pod's daprd exits too when its app channel cannot start).
    log.error({ err: error }, 'app channel failed to start; shutting down');
    options.onShutdown?.();
  });

  let closing: Promise<void> | undefined;
  return {
    httpPort,
    internalPort: invocation.internalPort,
    url: `http://127.0.0.1:${httpPort}`,
    appReady,
    close: () =>
      (closing ??= (async () => {
        lifecycle.abort();
        const stopped = new Promise((resolve) => server.close(resolve));
        server.closeIdleConnections();
        await Promise.allSettled(blocks.map((block) => block.close()));
        server.closeAllConnections();
        await stopped;
        appChannel.close();
        await context.pool.end();
      })()),
  };
}

/** DAPR_API_TOKEN: every route but the two health checks (docs/dapr-behaviour.md §1.2). */
function tokenAccepted(
  token: string | undefined,
  request: IncomingMessage,
  method: string,
  path: string,
): boolean {
  if (!token) return true;
  if (method === 'GET' && (path === '/v1.0/healthz' || path === '/v1.0/healthz/outbound'))
    return true;
  return request.headers['dapr-api-token'] === token;
}

function queryMetadata(query: URLSearchParams): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of query) {
    if (key.startsWith('metadata.') && !(key.slice(9) in metadata)) metadata[key.slice(9)] = value;
  }
  return metadata;
}

/** The body up to daprd's 4 MiB cap; `truncated` when the request had more (not read further). */
async function readBody(request: IncomingMessage): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    if (size + chunk.length > maxBodyBytes) {
      chunks.push(chunk.subarray(0, maxBodyBytes - size));
      return { body: Buffer.concat(chunks), truncated: true };
    }
    size += chunk.length;
    chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks), truncated: false };
}
