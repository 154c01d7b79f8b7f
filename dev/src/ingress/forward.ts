import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { sendProblem, type Problem } from './problem.ts';
import { BodyTooLargeError, type RequestBody } from './request-body.ts';
import type { Target } from '../replicas/supervisor.ts';

export interface ForwardOptions {
  targets: (service: string) => Target[];
  onUnreachable?: (replica: string) => void;
  /** How long a replica may take to connect, to start its answer, or between two chunks of it. */
  upstreamTimeoutMs: number;
}

/** One request on its way: what every attempt needs. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  service: string;
  path: string;
  host: string | undefined;
  body: RequestBody;
  /** Set by the first attempt that got no answer in time: the wait stays bounded by two. */
  timedOut?: boolean;
}

export interface Forwarder {
  forward(exchange: Exchange): void;
  close(): Promise<void>;
}

// RFC 9110 §9.2.2: only these may be repeated when we cannot tell whether the app saw them.
const idempotent = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
// RFC 9110 §7.6.1: meant for one connection, never forwarded (undici also refuses most of them).
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-proto',
]);
const neverReached = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT']);
const brokenConnection = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const timedOut = 'UND_ERR_HEADERS_TIMEOUT';

/** Round-robin over the healthy replicas, with the retry rules of ADR 0012. */
export function createForwarder(options: ForwardOptions): Forwarder {
  const timeout = options.upstreamTimeoutMs;
  const agent = new Agent({
    headersTimeout: timeout,
    bodyTimeout: timeout,
    connect: { timeout },
  });
  const turns = new Map<string, number>();

  const pick = (service: string, tried: Set<string> | undefined): Target | undefined => {
    let candidates = options.targets(service);
    if (tried) candidates = candidates.filter((target) => !tried.has(target.replica));
    if (candidates.length === 0) return undefined;
    const turn = turns.get(service) ?? 0;
    turns.set(service, turn + 1);
    return candidates[turn % candidates.length];
  };

  const attempt = (exchange: Exchange, tried: Set<string> | undefined, failure?: Problem) => {
    const { req, res } = exchange;
    const target = pick(exchange.service, tried);
    if (!target) {
      return sendProblem(req, res, failure ?? noReplica(exchange.service));
    }
    agent.dispatch(
      {
        origin: `http://127.0.0.1:${target.port}`,
        path: exchange.path,
        method: req.method as Dispatcher.HttpMethod,
        headers: upstreamHeaders(req, exchange.host),
        body: exchange.body.next(),
      },
      respond(exchange, (error) => {
        const outcome = judge(error, exchange);
        if (outcome.report) options.onUnreachable?.(target.replica);
        const secondTimeout = outcome.problem.status === 504 && exchange.timedOut === true;
        if (outcome.problem.status === 504) exchange.timedOut = true;
        if (!outcome.retry || secondTimeout) return sendProblem(req, res, outcome.problem);
        const next = tried ?? new Set<string>();
        next.add(target.replica);
        attempt(exchange, next, outcome.problem);
      }),
    );
  };

  return {
    forward: (exchange) => attempt(exchange, undefined),
    close: () => agent.close(),
  };
}

/** Streams the replica's answer to the client; a failure before any of it goes to `failed`. */
function respond(
  { res }: Exchange,
  failed: (error: NodeJS.ErrnoException) => void,
): Dispatcher.DispatchHandler {
  let abort: ((reason: Error) => void) | undefined;
  const onClientGone = () => {
    if (!res.writableFinished) abort?.(new Error('the client went away'));
  };
  res.once('close', onClientGone);
  return {
    onRequestStart(controller) {
      abort = (reason) => controller.abort(reason);
    },
    onResponseStart(controller, status, headers, statusMessage) {
      if (status < 200) return;
      res.writeHead(status, statusMessage, downstreamHeaders(headers));
    },
    onResponseData(controller, chunk) {
      if (!res.write(chunk)) {
        controller.pause();
        res.once('drain', () => controller.resume());
      }
    },
    onResponseEnd() {
      res.off('close', onClientGone);
      res.end();
    },
    onResponseError(_controller, error) {
      res.off('close', onClientGone);
      if (res.headersSent) return res.destroy();
      if (res.destroyed) return;
      failed(error as NodeJS.ErrnoException);
    },
  };
}

interface Outcome {
  retry: boolean;
  report: boolean;
  problem: Problem;
}

/**
 * What a failed attempt means. Never reached (refused): replay anywhere. Otherwise the app may
 * have acted, so only a request that may be repeated (idempotent method, or an Idempotency-Key)
 * is tried on another replica; the rest get 504 (no answer in time) or 502.
 */
function judge(error: NodeJS.ErrnoException, { req, body, service }: Exchange): Outcome {
  if (error instanceof BodyTooLargeError) {
    return { retry: false, report: false, problem: tooLarge(error) };
  }
  const code = error.code ?? '';
  const repeatable =
    body.replayable &&
    (idempotent.has(req.method ?? '') || req.headers['idempotency-key'] !== undefined);
  if (neverReached.has(code)) {
    return { retry: body.replayable, report: true, problem: noReplica(service) };
  }
  if (code === timedOut) {
    const problem = {
      status: 504,
      code: 'upstream-timeout',
      detail: `${service} did not answer in time`,
    };
    return { retry: repeatable, report: true, problem };
  }
  const problem = { status: 502, code: 'bad-gateway', detail: `${service} did not answer` };
  if (brokenConnection.has(code) && repeatable) {
    return { retry: true, report: true, problem: noReplica(service) };
  }
  return { retry: false, report: false, problem };
}

export function tooLarge(error: BodyTooLargeError): Problem {
  return { status: 413, code: 'payload-too-large', detail: error.message };
}

function noReplica(service: string): Problem {
  return {
    status: 503,
    code: 'no-healthy-replica',
    detail: `No healthy replica of ${service} is available`,
    headers: { 'retry-after': '1' },
  };
}

/** The client's headers minus hop-by-hop ones, with X-Forwarded-* set afresh (as Traefik does). */
function upstreamHeaders(req: IncomingMessage, host: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  const connection = req.headers.connection;
  const listed = connection ? connection.toLowerCase().split(/\s*,\s*/) : [];
  const incoming = req.headers as Record<string, string | string[] | undefined>;
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || hopByHop.has(name) || listed.includes(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (host !== undefined) headers.host = host;
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-host'] = host ?? '';
  headers['x-forwarded-port'] = String(req.socket.localPort ?? '');
  return headers;
}

/** The replica's headers minus hop-by-hop ones: our server sets its own Connection/Keep-Alive. */
function downstreamHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const connection = headers.connection;
  const listed = typeof connection === 'string' ? connection.toLowerCase().split(/\s*,\s*/) : [];
  const kept: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (hopByHop.has(name) || listed.includes(name)) continue;
    kept[name] = headers[name];
  }
  return kept;
}
