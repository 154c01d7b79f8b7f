import { randomFillSync, randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.ts';

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

/** Gives every request an id (kept from the caller when sane), a trace context and a logger. */
export function requestContext(logger: Logger): Middleware {
  return async (ctx, next) => {
    const incomingId = ctx.get('x-request-id');
    const requestId = requestIdPattern.test(incomingId) ? incomingId : randomUUID();
    const traceparent = continueTrace(ctx.get('traceparent'));
    ctx.state.requestId = requestId;
    ctx.state.traceparent = traceparent;
    ctx.state.log = logger.child({ reqId: requestId, traceId: traceparent.slice(3, 35) });
    ctx.set('x-request-id', requestId);
    await next();
  };
}

/** Keeps the caller's trace id (with a new span id for this hop) or starts a new trace. */
function continueTrace(incoming: string): string {
  const match = traceparentPattern.exec(incoming);
  // W3C Trace Context: an all-zero trace id or parent id makes the whole header invalid.
  const isValid = match && !/^0+$/.test(match[1]!) && !/^0+$/.test(match[2]!);
  const traceId = isValid ? match[1] : randomHex(16);
  const flags = isValid ? match[3] : '01';
  return `00-${traceId}-${randomHex(8)}-${flags}`;
}

// Ids come from a pool of random bytes refilled 4 KiB at a time (as randomUUID does): a call into
// the CSPRNG per request cost more than all the rest of a cached product read.
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}
