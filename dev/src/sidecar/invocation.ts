import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { http } from './node-http.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { daprError, send, type RawHandler } from './api.ts';
import { isStreamingChannel } from './app-channel.ts';
import { compileAccessControl } from './invocation/access-control.ts';
import { startCalleeServer } from './invocation/callee.ts';
import { exchange, readAll, sendReply, type Body, type Reply } from './invocation/exchange.ts';
import {
  DirectInvokeError,
  UnreachableError,
  goHttpError,
  goNetError,
  isConnectionError,
} from './invocation/failures.ts';
import { endToEndHeaders, identityHeaders, newTraceparent } from './invocation/headers.ts';
import { internalTokenHeader } from './invocation/internal-auth.ts';
import { appPath, findTarget, hopPath, parseTarget, type Target } from './invocation/target.ts';
import { createRegistry, type Instance } from './registry.ts';
import { builtInServiceRetries } from './resiliency.ts';
import type { InvocationBlock, SidecarContext } from './types.ts';

export interface InvocationOptions {
  /** The sidecar-to-sidecar port (daprd's 50002); 0 = a free one. */
  internalPort: number;
  /** DAPR_API_TOKEN: when enforced, the caller's copy is never forwarded (docs/dapr-behaviour.md §2.2). */
  apiToken?: string;
  /** The stack's sidecar-to-sidecar secret, sent on every remote call and required on ours. */
  internalToken: string;
}

const maxBodyBytes = 4 * 1024 * 1024;
const noAppId = daprError(
  404,
  'ERR_DIRECT_INVOKE',
  'failed getting app id either from the URL path or the header dapr-app-id',
);
// docs/dapr-behaviour.md §2.6: an app answer below 200 or above 399 counts as a failure.
const failureStatus = (reply: Reply) =>
  reply.status < 200 || reply.status > 399 ? reply.status : undefined;

/**
 * Service invocation (docs/dapr-behaviour.md §2): the fallback route calls other apps through their
 * sidecars' internal port, found in the name registry; the internal server (callee.ts) takes
 * other sidecars' calls to this app.
 */
export async function createInvocation(
  context: SidecarContext,
  options: InvocationOptions,
): Promise<InvocationBlock> {
  const { app, appId, resiliency } = context;
  if (!isStreamingChannel(app)) throw new Error('invocation needs createAppChannel()');
  const namespace = context.namespace ?? 'default';
  const callee = await startCalleeServer({
    port: options.internalPort,
    appId,
    app,
    deny: compileAccessControl(context.resources.configuration?.accessControl),
    internalToken: options.internalToken,
  });
  const registry = await createRegistry({
    pool: context.pool,
    log: context.log,
    appId,
    namespace,
    instanceId: context.instanceId,
    host: '127.0.0.1',
    port: callee.port,
  }).catch(async (error: unknown) => {
    await callee.close();
    throw error;
  });
  const builtIn = builtInServiceRetries(context.resources.resiliencies);
  const agent = new http.Agent({ keepAlive: true, timeout: 30_000 });
  const samplingRate =
    Number(context.resources.configuration?.tracing?.samplingRate ?? 0.0001) || 0;
  const addIdentity = identityHeaders({ appId, namespace: context.namespace, samplingRate });
  const withTraceparent = (headers: OutgoingHttpHeaders) => {
    headers.traceparent ??= newTraceparent(samplingRate);
    return headers;
  };
  const policies = new Map<string, ReturnType<typeof resiliency.app>>();
  const policyOf = (id: string) => {
    let policy = policies.get(id);
    if (!policy) policies.set(id, (policy = resiliency.app(id)));
    return policy;
  };

  /** A remote call with daprd's built-in retries: only while the target sidecar is unreachable. */
  const callRemote = async (target: Target, call: Call, signal?: AbortSignal) => {
    const { builtInRetries } = policyOf(target.id);
    const retries = builtInRetries && Buffer.isBuffer(call.body) ? builtIn.maxRetries : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const instance = await registry.pick(target.appId, target.namespace);
        if (!instance) throw new UnreachableError(`couldn't find service: ${target.appId}`);
        const { host, port } = instance;
        const { method, path, headers } = call;
        const request = http.request({ host, port, method, path, headers, agent });
        return await exchange(request, call.body, {
          buffered: call.buffered,
          signal,
          describe: (error) => sidecarError(error, instance, signal),
        });
      } catch (error) {
        if (!(error instanceof UnreachableError)) throw error;
        registry.evict(target.appId, target.namespace);
        if (!builtInRetries) throw error;
        if (attempt >= retries) {
          const cause = `failed to invoke target ${target.appId} after ${attempt} retries. Error: ${error.message}`;
          throw new DirectInvokeError(500, cause);
        }
        await sleep(builtIn.intervalMs, undefined, { signal });
      }
    }
  };

  /** Invoking our own app id short-circuits to our app (docs/dapr-behaviour.md §2.2). */
  const callSelf = (call: Call, signal?: AbortSignal) => {
    const request = app.open(call.method, call.path, call.headers);
    return exchange(request, call.body, {
      buffered: call.buffered,
      signal,
      describe: (error) => {
        if (signal?.aborted) return error;
        const address = `${app.host}:${app.port}`;
        const cause = goHttpError(
          call.method,
          `http://${address}${call.path}`,
          goNetError(error, address),
        );
        return new DirectInvokeError(500, `error invoking app channel: ${cause}`);
      },
    });
  };

  const invoke = async (request: IncomingMessage, target: Target): Promise<Reply> => {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const isSelf = target.appId === appId && target.namespace === namespace;
    // daprd's invokeLocal goes straight to the app channel: none of the identity or forwarding
    // headers of a remote call, only the span's traceparent.
    const headers = isSelf
      ? withTraceparent(endToEndHeaders(request.headers))
      : addIdentity(endToEndHeaders(request.headers), target.appId);
    if (options.apiToken) delete headers['dapr-api-token'];
    // Unknown length: streamed through, never retried (docs/dapr-behaviour.md §2.6).
    const isStream =
      request.headers['content-length'] === undefined && 'transfer-encoding' in request.headers;
    if (isStream) headers['transfer-encoding'] = 'chunked';
    const policy = policyOf(target.id);
    const call: Call = {
      method: request.method ?? 'GET',
      path:
        (isSelf ? appPath(target.method) : hopPath(target.method)) +
        (queryAt === -1 ? '' : url.slice(queryAt)),
      headers,
      body: isStream ? request : await readAll(request),
      buffered: !policy.isEmpty,
    };
    // Set last, so no header of the caller's can replace it.
    if (!isSelf) headers[internalTokenHeader] = options.internalToken;
    const attempt = (signal?: AbortSignal) =>
      isSelf ? callSelf(call, signal) : callRemote(target, call, signal);
    if (policy.isEmpty) return attempt();
    if (!isStream) return policy.execute(attempt, { failureStatus, circuitKey: target.method });
    // One attempt only: failures come back as values, so the policy retries nothing (its timeout
    // and open breaker still apply, but the breaker does not count these failures).
    const outcome = await policy.execute(
      (signal) =>
        attempt(signal).then(
          (reply) => ({ reply }),
          (error: Error) => ({ error }),
        ),
      { circuitKey: target.method },
    );
    if ('error' in outcome) throw outcome.error;
    return outcome.reply;
  };

  const fallback: RawHandler = async (request, response, path) => {
    const found = findTarget(path, request.headers);
    if (!found) return send(response, noAppId);
    if (Number(request.headers['content-length']) > maxBodyBytes) {
      response.writeHead(413, { 'content-type': 'text/plain; charset=utf-8' });
      return void response.end('http: request body too large');
    }
    try {
      const target = parseTarget(found.id, found.method, namespace);
      sendReply(response, await invoke(request, target));
    } catch (error) {
      sendFailure(response, found.id, error as Error);
    }
  };

  return {
    routes: [],
    fallback,
    internalPort: callee.port,
    onAppReady: () => registry.register(),
    async close() {
      try {
        await registry.deregister();
      } finally {
        agent.destroy();
        await callee.close();
      }
    },
  };
}

interface Call {
  method: string;
  /** `/<method>?<raw query>`. */
  path: string;
  headers: OutgoingHttpHeaders;
  body: Body;
  /** Whether the answer is read whole (a resiliency policy may retry and discard it). */
  buffered: boolean;
}

/** What a socket error on the sidecar-to-sidecar hop means (daprd: gRPC Unavailable). */
function sidecarError(error: Error, instance: Instance, signal?: AbortSignal): Error {
  if (signal?.aborted) return error;
  const address = `${instance.host}:${instance.port}`;
  if (!isConnectionError(error)) return new DirectInvokeError(500, error.message);
  const dial = goNetError(error, address);
  return new UnreachableError(
    `rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: ${dial}"`,
  );
}

/** ERR_DIRECT_INVOKE `failed to invoke, id: <id>, err: <cause>` (docs/dapr-behaviour.md §2.3). */
function sendFailure(response: ServerResponse, id: string, error: Error): void {
  if (response.headersSent) return void response.destroy();
  const status = error instanceof DirectInvokeError ? error.status : 500;
  send(
    response,
    daprError(status, 'ERR_DIRECT_INVOKE', `failed to invoke, id: ${id}, err: ${error.message}`),
  );
}
