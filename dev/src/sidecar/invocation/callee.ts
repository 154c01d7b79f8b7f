import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import type { StreamingAppChannel } from '../app-channel.ts';
import type { InboundCall } from './access-control.ts';
import { endToEndHeaders } from './headers.ts';
import { failureHeader, goHttpError, goNetError } from './failures.ts';

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
}

/**
 * The callee side (daprd's internal gRPC server on 50002, plain HTTP here, loopback only): other
 * sidecars send invocations here; this applies the ACL and streams the call to the app.
 */
export async function startCalleeServer(options: CalleeOptions): Promise<CalleeServer> {
  const server = http.createServer((request, response) => forward(options, request, response));
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

function forward(options: CalleeOptions, request: IncomingMessage, response: ServerResponse) {
  const { app } = options;
  const verb = request.method ?? 'GET';
  const url = request.url ?? '/';
  const queryAt = url.indexOf('?');
  const callee = headerValue(request, 'dapr-callee-app-id');
  if (callee !== options.appId) {
    // A stale registry entry: the caller evicts it and tries again (gRPC Unavailable in daprd).
    return fail(response, 'Unavailable', `app ${callee} is not served here`);
  }
  const denial = options.deny({
    callerAppId: headerValue(request, 'dapr-caller-app-id') ?? '',
    callerNamespace: headerValue(request, 'dapr-caller-namespace') ?? 'default',
    operation: (queryAt === -1 ? url : url.slice(0, queryAt)).slice(1),
    verb,
  });
  if (denial) return fail(response, 'PermissionDenied', denial);

  const headers = endToEndHeaders(request.headers);
  if (request.headers['transfer-encoding']) headers['transfer-encoding'] = 'chunked';
  const upstream = app.open(verb, url, headers);
  upstream.once('response', (appResponse) => {
    const replyHeaders = endToEndHeaders(appResponse.headers);
    delete replyHeaders[failureHeader];
    response.writeHead(appResponse.statusCode ?? 500, replyHeaders);
    pipeline(appResponse, response, () => {});
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

/** A failure of this sidecar, in the form the caller sidecar decodes (failures.ts). */
function fail(
  response: ServerResponse,
  code: 'PermissionDenied' | 'Unavailable' | 'Internal',
  description: string,
) {
  response
    .writeHead(code === 'PermissionDenied' ? 403 : code === 'Unavailable' ? 503 : 500, {
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
