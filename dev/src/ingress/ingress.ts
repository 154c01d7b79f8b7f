import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createForwarder, tooLarge } from './forward.ts';
import { rawProblem, sendProblem } from './problem.ts';
import { BodyTooLargeError, readBody, type RequestBody } from './request-body.ts';
import { refuseRequest, requestTarget } from './request-target.ts';
import type { Target } from '../replicas/supervisor.ts';

// Not an ESM import: that reads node:http's lazy WebSocket export, which loads Node's bundled
// undici beside the one the forwarder uses — some 14 MiB resident (see sidecar/node-http.ts).
const http = process.getBuiltinModule('node:http');

export interface Route {
  /** Matches the prefix itself and everything below it; forwarded unchanged. */
  prefix: string;
  service: string;
}

export interface IngressLimits {
  /** A replica's time to connect, to start answering, and between chunks of its answer → 504. */
  upstreamTimeoutMs: number;
  /** A client's time to send the request head → 408. */
  headersTimeoutMs: number;
  /** A client's time to send the whole request, body included → 408. */
  requestTimeoutMs: number;
  /** Open client connections; further ones are dropped until some close. */
  maxConnections: number;
  /** Bodies up to this size are held for a replay; larger ones are streamed. */
  replayBytes: number;
  /** Larger bodies get 413 (services refuse far less: 64 KiB). */
  maxBodyBytes: number;
}

export const defaultLimits: IngressLimits = {
  upstreamTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 1000,
  replayBytes: 64 * 1024,
  maxBodyBytes: 1024 * 1024,
};

export interface IngressOptions {
  port: number;
  routes: Route[];
  /** The replicas of a service that may take traffic now. */
  targets: (service: string) => Target[];
  /** A replica refused a connection or did not answer: the supervisor may stop routing to it. */
  onUnreachable?: (replica: string) => void;
  limits?: Partial<IngressLimits>;
}

export interface Ingress {
  port: number;
  url: string;
  /** Stops accepting connections; resolves once the open ones are done. */
  close(): Promise<void>;
  /** Cuts whatever is still open. */
  closeAllConnections(): void;
}

const keepAliveMs = 5000;

/** The local stand-in for Traefik: routes path prefixes round-robin to healthy replicas. */
export async function startIngress(options: IngressOptions): Promise<Ingress> {
  const limits = { ...defaultLimits, ...options.limits };
  const forwarder = createForwarder({ ...options, upstreamTimeoutMs: limits.upstreamTimeoutMs });
  const routes = [...options.routes].sort((a, b) => b.prefix.length - a.prefix.length);
  // The response in progress per connection, so a client error knows whether it may still answer.
  const answering = new WeakMap<Socket, ServerResponse>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const refusal = refuseRequest(req);
    if (refusal) return sendProblem(req, res, refusal);
    const target = requestTarget(req);
    const route = target && routes.find(({ prefix }) => isBelow(target.pathname, prefix));
    if (!target || !route) {
      const detail = `No service is routed at ${target?.pathname ?? req.url}`;
      return sendProblem(req, res, { status: 404, code: 'not-found', detail });
    }
    answering.set(req.socket, res);
    const exchange = (body: RequestBody) =>
      forwarder.forward({
        req,
        res,
        service: route.service,
        path: target.path,
        host: target.host,
        body,
      });
    const refuse = (error: unknown) => {
      if (!(error instanceof BodyTooLargeError)) return res.destroy();
      res.shouldKeepAlive = false;
      sendProblem(req, res, tooLarge(error));
    };
    try {
      const body = readBody(req, limits);
      if (body instanceof Promise) body.then(exchange, refuse);
      else exchange(body);
    } catch (error) {
      refuse(error);
    }
  };

  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: keepAliveMs,
      // Node checks both timeouts only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs / 2),
      // Checked in refuseRequest, to answer with a problem like every other refusal.
      requireHostHeader: false,
    },
    handle,
  );
  server.maxConnections = limits.maxConnections;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // Only while no answer is under way for the request that failed: once one was sent for it (a
    // replica answered before the body was in), a 408 would be a response nobody asked for.
    const res = answering.get(socket);
    const answered = res?.headersSent && !(res.writableFinished && res.req.complete);
    if (!socket.writable || answered || error.code === 'ECONNRESET') return socket.destroy();
    socket.end(rawProblem(clientProblem(error)), () => socket.destroy());
  });
  await listen(server, options.port);
  const port = (server.address() as { port: number }).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          void forwarder.close().then(resolve);
        });
        server.closeIdleConnections();
      }),
    closeAllConnections: () => server.closeAllConnections(),
  };
}

/** Node's parser refused the request or a client was too slow: what to tell it. */
function clientProblem(error: NodeJS.ErrnoException) {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, code: 'request-timeout', detail: 'The request did not arrive in time' };
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      code: 'headers-too-large',
      detail: 'The request head is too large',
    };
  }
  if (error.code === 'HPE_INVALID_VERSION') {
    return {
      status: 505,
      code: 'http-version-not-supported',
      detail: 'Only HTTP/1.1 is supported',
    };
  }
  return { status: 400, code: 'bad-request', detail: 'The request is not valid HTTP/1.1' };
}

function isBelow(pathname: string, prefix: string): boolean {
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return reject(error);
      reject(new Error(`port ${port} is in use (another \`npm start\`?): choose one with --port`));
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
}
