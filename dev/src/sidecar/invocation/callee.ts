import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../node-http.ts';
import type { AddressInfo } from 'node:net';
import type { StreamingAppChannel } from '../app-channel.ts';
import type { InboundCall } from './access-control.ts';
import { relay } from './exchange.ts';
import { endToEndHeaders } from './headers.ts';
import { failureHeader, goHttpError, goNetError } from './failures.ts';
import { internalTokenHeader, isFromStackSidecar } from './internal-auth.ts';
import { appPath, InvalidMethodError, normalizeMethod, pathUnescape } from './target.ts';

export interface CalleeServer {
  port: number;
  close(): Promise<void>;
}

export interface CalleeOptions {
  /** 0 = a free port. */
  port: number;
  /** Calls for another app id reached a port this sidecar took over from a dead one. */
  appId: string;
  app: StreamingAppChannel;
  /** The ACL: a denial message, or undefined when the call is allowed. */
  deny: (call: InboundCall) => string | undefined;
  /** The stack's sidecar-to-sidecar secret (internal-auth.ts): calls without it are refused. */
  internalToken: string;
}

/**
 * The callee side (daprd's internal gRPC server on 50002, plain HTTP here, loopback only): other
 * sidecars of the stack send invocations here; this authenticates them, applies the ACL and
 * streams the call to the app.
 */
export async function startCalleeServer(options: CalleeOptions): Promise<CalleeServer> {
  const token = Buffer.from(options.internalToken);
  const server = http.createServer((request, response) =>
    forward(options, token, request, response),
  );
  // Calls may take as long as the app takes (no default timeout, docs/dapr-behaviour.md §2.5); idle
  // connections outlive the callers' agents (30 s) so those never reuse a closing socket.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 60_000;
  server.listen(options.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function forward(
  options: CalleeOptions,
  token: Buffer,
  request: IncomingMessage,
  response: ServerResponse,
) {
  const { app } = options;
  // Before anything else: an unauthenticated caller learns nothing, not even which app is here.
  if (!isFromStackSidecar(request.headers, token)) {
    return fail(response, 'Unauthenticated', 'the caller is not a sidecar of this stack');
  }
  const verb = request.method ?? 'GET';
  const callee = headerValue(request, 'dapr-callee-app-id');
  if (callee !== options.appId) {
    // A stale registry entry: the caller evicts it and tries again (gRPC Unavailable in daprd).
    return fail(response, 'Unavailable', `app ${callee} is not served here`);
  }
  const raw = request.url ?? '/';
  const queryAt = raw.indexOf('?');
  let method;
  try {
    // The caller sent its decoded, cleaned method escaped (hopPath); cleaned again in defence,
    // as daprd's callee does: the ACL must judge the path the app will be given.
    method = normalizeMethod(pathUnescape((queryAt === -1 ? raw : raw.slice(0, queryAt)).slice(1)));
  } catch (error) {
    if (!(error instanceof InvalidMethodError)) throw error;
    return fail(response, 'InvalidArgument', error.description);
  }
  const url = appPath(method) + (queryAt === -1 ? '' : raw.slice(queryAt));
  const denial = options.deny({
    callerAppId: headerValue(request, 'dapr-caller-app-id') ?? '',
    callerNamespace: headerValue(request, 'dapr-caller-namespace') ?? 'default',
    operation: method,
    verb,
  });
  if (denial) return fail(response, 'PermissionDenied', denial);

  const headers = endToEndHeaders(request.headers);
  delete headers[internalTokenHeader];
  if (request.headers['transfer-encoding']) headers['transfer-encoding'] = 'chunked';
  const upstream = app.open(verb, url, headers);
  upstream.once('response', (appResponse) => {
    const replyHeaders = endToEndHeaders(appResponse.headers);
    delete replyHeaders[failureHeader];
    response.writeHead(appResponse.statusCode ?? 500, replyHeaders);
    relay(appResponse, response);
  });
  upstream.on('error', (error) => {
    if (response.headersSent) return void response.destroy();
    const address = `${app.host}:${app.port}`;
    const cause = goHttpError(verb, `http://${address}${url}`, goNetError(error, address));
    fail(response, 'Internal', `error invoking app channel: ${cause}`);
  });
  // The caller gave up (resiliency timeout, client gone): so does the call to the app.
  response.once('close', () => {
    if (!response.writableFinished) upstream.destroy();
  });
  request.pipe(upstream);
}

const failureStatus = {
  Unauthenticated: 401,
  PermissionDenied: 403,
  InvalidArgument: 400,
  Unavailable: 503,
  Internal: 500,
} as const;

/** A failure of this sidecar, in the form the caller sidecar decodes (failures.ts). */
function fail(response: ServerResponse, code: keyof typeof failureStatus, description: string) {
  response
    .writeHead(failureStatus[code], {
      [failureHeader]: code,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(description),
    })
    .end(description);
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
