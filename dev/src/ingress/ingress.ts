import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import { readBody, BodyTooLargeError } from './request-body.ts';
import { sendProblem } from './problem.ts';
import type { Target } from '../replicas/supervisor.ts';

export interface Route {
  /** Matches the prefix itself and everything below it; forwarded unchanged. */
  prefix: string;
  service: string;
}

export interface IngressOptions {
  port: number;
  routes: Route[];
  /** The replicas of a service that may take traffic now. */
  targets: (service: string) => Target[];
  /** A replica refused a connection: the supervisor may stop routing to it early. */
  onUnreachable?: (replica: string) => void;
  maxBodyBytes?: number;
}

export interface Ingress {
  port: number;
  url: string;
  /** Stops accepting connections; resolves once the open ones are done. */
  close(): Promise<void>;
  /** Cuts whatever is still open. */
  closeAllConnections(): void;
}

// RFC 9110 §9.2.2: only these may be repeated when we cannot tell whether the app saw them.
const idempotent = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const keepAliveMs = 5000;

/** The local stand-in for Traefik: routes path prefixes round-robin to healthy replicas. */
export async function startIngress(options: IngressOptions): Promise<Ingress> {
  const agent = new http.Agent({ keepAlive: true });
  const proxy = createProxyServer({ xfwd: true, agent });
  const lastProxyRequest = new WeakMap<IncomingMessage, ClientRequest>();
  proxy.on('proxyReq', (proxyReq, req) => lastProxyRequest.set(req, proxyReq));
  // Keep-Alive is hop-by-hop: a client told the app's idle timeout (65 s) instead of ours would
  // reuse sockets we already closed.
  proxy.on('proxyRes', (proxyRes) => {
    proxyRes.headers['keep-alive'] = `timeout=${keepAliveMs / 1000}`;
  });
  const turns = new Map<string, number>();
  const routes = [...options.routes].sort((a, b) => b.prefix.length - a.prefix.length);

  const pick = (service: string, tried: Set<string>): Target | undefined => {
    const candidates = options.targets(service).filter((target) => !tried.has(target.replica));
    if (candidates.length === 0) return undefined;
    const turn = turns.get(service) ?? 0;
    turns.set(service, turn + 1);
    return candidates[turn % candidates.length];
  };

  // Safe to replay: refused (the app never saw it), or a kept-alive socket that was already
  // closed, for a request that may be repeated (idempotent method, or an Idempotency-Key).
  const isReplayable = (error: NodeJS.ErrnoException, req: IncomingMessage) =>
    error.code === 'ECONNREFUSED' ||
    (['ECONNRESET', 'EPIPE'].includes(error.code ?? '') &&
      lastProxyRequest.get(req)?.reusedSocket === true &&
      (idempotent.has(req.method ?? '') || req.headers['idempotency-key'] !== undefined));

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    service: string,
    body: Buffer,
    tried: Set<string>,
  ) => {
    const target = pick(service, tried);
    if (!target) {
      return sendProblem(req, res, {
        status: 503,
        code: 'no-healthy-replica',
        detail: `No healthy replica of ${service} is available`,
        headers: { 'retry-after': '1' },
      });
    }
    // Like Traefik, do not trust forwarded headers from the client; xfwd sets them afresh.
    for (const header of [
      'x-forwarded-for',
      'x-forwarded-port',
      'x-forwarded-proto',
      'x-forwarded-host',
    ]) {
      delete req.headers[header];
    }
    const buffer = Readable.from(body.length > 0 ? [body] : []);
    proxy.web(req, res, { target: `http://127.0.0.1:${target.port}`, buffer }, (error) => {
      if (!res.headersSent && isReplayable(error as NodeJS.ErrnoException, req)) {
        options.onUnreachable?.(target.replica);
        return forward(req, res, service, body, tried.add(target.replica));
      }
      if (res.headersSent) return res.destroy();
      sendProblem(req, res, {
        status: 502,
        code: 'bad-gateway',
        detail: `${service} did not answer`,
      });
    });
  };

  const server = http.createServer((req, res) => {
    const url = requestPath(req.url);
    const route = url && routes.find(({ prefix }) => isBelow(url.pathname, prefix));
    if (!url || !route) {
      const detail = `No service is routed at ${url?.pathname ?? req.url}`;
      return sendProblem(req, res, { status: 404, code: 'not-found', detail });
    }
    req.url = url.pathname + url.search;
    readBody(req, options.maxBodyBytes ?? 1024 * 1024).then(
      (body) => forward(req, res, route.service, body, new Set()),
      (error: unknown) => {
        if (!(error instanceof BodyTooLargeError)) return res.destroy();
        res.shouldKeepAlive = false;
        sendProblem(req, res, { status: 413, code: 'payload-too-large', detail: error.message });
      },
    );
  });
  server.keepAliveTimeout = keepAliveMs;
  await listen(server, options.port);
  const port = (server.address() as { port: number }).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          agent.destroy();
          resolve();
        });
        server.closeIdleConnections();
      }),
    closeAllConnections: () => server.closeAllConnections(),
  };
}

/** Path and query with dot segments resolved, or undefined for anything but origin-form. */
function requestPath(raw: string | undefined): URL | undefined {
  if (!raw?.startsWith('/')) return undefined;
  try {
    return new URL(`http://ingress${raw}`);
  } catch {
    return undefined;
  }
}

function isBelow(pathname: string, prefix: string): boolean {
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return reject(error);
      reject(new Error(`port ${port} is in use (another \`npm start\`?): choose one with --port`));
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
}
