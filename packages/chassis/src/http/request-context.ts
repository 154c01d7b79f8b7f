import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.ts';
import { randomHex } from '../trace-ids.ts';

declare module 'koa' {
  interface DefaultState {
    /** This request's logger (carries the request id and trace id). */
    log: Logger;
    requestId: string;
    /** W3C trace context to pass on with outgoing calls. */
    traceparent: string;
  }
}

const requestIdPattern = /^[\w.:-]{1,128}$/;
const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * A request's `ctx.state`. Its logger is made on first use: a pino child (bindings serialised,
 * redaction set up) cost a cached read more than anything else the chassis did, and most requests
 * never log once the access log is below the level. Its trace context likewise: only a request
 * that logs or calls out (Dapr, the outbox) needs a span id.
 */
class RequestState {
  #base: Logger;
  #log: Logger | undefined;
  #incomingTrace: string;
  #traceparent: string | undefined;
  requestId: string;

  constructor(base: Logger, requestId: string, incomingTrace: string) {
    this.#base = base;
    this.requestId = requestId;
    this.#incomingTrace = incomingTrace;
  }

  get traceparent(): string {
    this.#traceparent ??= continueTrace(this.#incomingTrace);
    return this.#traceparent;
  }

  set traceparent(traceparent: string) {
    this.#traceparent = traceparent;
  }

  get log(): Logger {
    this.#log ??= this.#base.child({
      reqId: this.requestId,
      traceId: this.traceparent.slice(3, 35),
    });
    return this.#log;
  }

  set log(log: Logger) {
    this.#log = log;
  }
}

/** Gives every request an id (kept from the caller when sane), a trace context and a logger. */
export function requestContext(logger: Logger): Middleware {
  return (ctx, next) => {
    const incomingId = ctx.get('x-request-id');
    const requestId = requestIdPattern.test(incomingId) ? incomingId : randomUUID();
    // Koa hands every request a fresh `{}`; this middleware runs first, so nothing holds it yet.
    ctx.state = new RequestState(logger, requestId, ctx.get('traceparent'));
    ctx.set('x-request-id', requestId);
    return next();
  };
}

const zeroTraceId = '0'.repeat(32);
const zeroParentId = '0'.repeat(16);

/** Keeps the caller's trace id (with a new span id for this hop) or starts a new trace. */
function continueTrace(incoming: string): string {
  const match = incoming ? traceparentPattern.exec(incoming) : null;
  // W3C Trace Context: an all-zero trace id or parent id makes the whole header invalid.
  const isValid = match !== null && match[1] !== zeroTraceId && match[2] !== zeroParentId;
  const traceId = isValid ? match[1] : randomHex(16);
  const flags = isValid ? match[3] : '01';
  return `00-${traceId}-${randomHex(8)}-${flags}`;
}
