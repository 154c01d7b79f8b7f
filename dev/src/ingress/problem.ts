import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

// Not an ESM import of node:http, which would load its bundled undici (see ingress.ts).
const { STATUS_CODES } = process.getBuiltinModule('node:http');

export interface Problem {
  status: number;
  code: string;
  detail: string;
  headers?: Record<string, string>;
}

function problemBody(problem: Problem, instance: string | undefined): string {
  return JSON.stringify({
    type: `urn:sidecart:problem:${problem.code}`,
    title: STATUS_CODES[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
    instance,
  });
}

/** Answers with an RFC 9457 body shaped like the services' own errors. */
export function sendProblem(req: IncomingMessage, res: ServerResponse, problem: Problem): void {
  const body = problemBody(problem, req.url?.split('?')[0]);
  if (problem.headers?.connection === 'close') res.shouldKeepAlive = false;
  res.writeHead(problem.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': req.headers['x-request-id'] ?? randomUUID(),
    ...problem.headers,
  });
  res.end(body);
}

/**
 * The same problem as raw bytes, for requests Node's parser refused or timed out before there was
 * a response object to answer with; the connection closes after it.
 */
export function rawProblem(problem: Problem): string {
  const body = problemBody(problem, undefined);
  return (
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}\r\n` +
    `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `x-request-id: ${randomUUID()}\r\nconnection: close\r\n\r\n${body}`
  );
}
