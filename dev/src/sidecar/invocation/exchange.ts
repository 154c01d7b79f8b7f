import type {
  ClientRequest,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import { endToEndHeaders } from './headers.ts';
import { calleeFailure, failureHeader } from './failures.ts';

/** A request body: buffered (replayable by retries) or the caller's stream (chunked uploads). */
export type Body = Buffer | IncomingMessage;

export interface Reply {
  status: number;
  /** End-to-end headers only. */
  headers: OutgoingHttpHeaders;
  /** Buffered when a resiliency policy may retry (and so discard) it; else streamed through. */
  body: Buffer | IncomingMessage;
}

export interface ExchangeOptions {
  buffered: boolean;
  /** Turns a socket error into the error daprd would report for this hop. */
  describe: (error: Error) => Error;
  /** Cuts the hop off (a resiliency timeout): destroys the request, as http.request's own would. */
  signal?: AbortSignal;
}

/**
 * One hop: sends `body` on the unsent `request` and resolves with the answer (its whole body when
 * `buffered`). A callee sidecar's own failure (see failureHeader) rejects as a DirectInvokeError.
 */
export function exchange(
  request: ClientRequest,
  body: Body,
  options: ExchangeOptions,
): Promise<Reply> {
  if (options.signal) abortWith(request, options.signal);
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => reject(options.describe(error));
    // `on`, not `once`: a socket can fail again after the first error.
    request.on('error', fail);
    request.once('response', (response) => {
      const failure = response.headers[failureHeader];
      if (typeof failure === 'string') {
        readAll(response).then((text) => reject(calleeFailure(failure, text.toString())), fail);
        return;
      }
      const status = response.statusCode ?? 500;
      const headers = endToEndHeaders(response.headers);
      if (!options.buffered) return resolve({ status, headers, body: response });
      readAll(response).then((data) => resolve({ status, headers, body: data }), fail);
    });
    if (Buffer.isBuffer(body)) return void request.end(body.length > 0 ? body : undefined);
    body.pipe(request);
    // pipe() leaves the next hop waiting when the caller disconnects mid-upload.
    body.once('close', () => {
      if (!body.complete) request.destroy();
    });
  });
}

/**
 * http.request's `signal` option for less: Node watches the request with finished(), several
 * listeners per call; one abort listener, dropped when the request closes, does the same.
 */
function abortWith(request: ClientRequest, signal: AbortSignal): void {
  const abort = () => {
    const error = new Error('The operation was aborted', { cause: signal.reason as unknown });
    request.destroy(Object.assign(error, { name: 'AbortError', code: 'ABORT_ERR' }));
  };
  if (signal.aborted) return void process.nextTick(abort);
  signal.addEventListener('abort', abort, { once: true });
  request.once('close', () => signal.removeEventListener('abort', abort));
}

/** Passes an app's answer back verbatim: status, end-to-end headers, body (docs/dapr-behaviour.md §2.3). */
export function sendReply(response: ServerResponse, reply: Reply): void {
  response.writeHead(reply.status, reply.headers);
  if (Buffer.isBuffer(reply.body)) response.end(reply.body);
  else relay(reply.body, response);
}

/**
 * Streams an answer on; a broken stream on either side ends both, so the caller sees the
 * connection drop, as with daprd. Not stream.pipeline(): on every call it creates an
 * AbortController and aborts it when done, building a DOMException with a stack trace — the
 * largest single cost on the invocation path in a CPU profile.
 */
export function relay(source: IncomingMessage, target: ServerResponse): void {
  source.on('error', () => target.destroy());
  source.once('close', () => {
    if (!source.readableEnded) target.destroy();
  });
  target.once('close', () => {
    if (!source.readableEnded) source.destroy();
  });
  source.pipe(target);
}

/** A whole body (stream/consumers' buffer() goes through a Blob and an async iterator). */
export function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}
