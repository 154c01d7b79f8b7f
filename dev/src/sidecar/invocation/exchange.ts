import type {
  ClientRequest,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import { pipeline } from 'node:stream';
import { buffer } from 'node:stream/consumers';
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
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => reject(options.describe(error));
    // `on`, not `once`: a socket can fail again after the first error.
    request.on('error', fail);
    request.once('response', (response) => {
      const failure = response.headers[failureHeader];
      if (typeof failure === 'string') {
        buffer(response).then((text) => reject(calleeFailure(failure, text.toString())), fail);
        return;
      }
      const status = response.statusCode ?? 500;
      const headers = endToEndHeaders(response.headers);
      if (!options.buffered) return resolve({ status, headers, body: response });
      buffer(response).then((data) => resolve({ status, headers, body: data }), fail);
    });
    if (Buffer.isBuffer(body)) return void request.end(body.length > 0 ? body : undefined);
    body.pipe(request);
    // pipe() leaves the next hop waiting when the caller disconnects mid-upload.
    body.once('close', () => {
      if (!body.complete) request.destroy();
    });
  });
}

/** Passes an app's answer back verbatim: status, end-to-end headers, body (docs/dapr-behaviour.md §2.3). */
export function sendReply(response: ServerResponse, reply: Reply): void {
  response.writeHead(reply.status, reply.headers);
  if (Buffer.isBuffer(reply.body)) response.end(reply.body);
  // A broken stream on either side ends both; the caller sees the connection drop, as with daprd.
  else pipeline(reply.body, response, () => {});
}
