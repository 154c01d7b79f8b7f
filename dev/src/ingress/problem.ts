import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';

/** Answers with an RFC 9457 body shaped like the services' own errors. */
export function sendProblem(
  req: IncomingMessage,
  res: ServerResponse,
  problem: { status: number; code: string; detail: string; headers?: Record<string, string> },
): void {
  const body = JSON.stringify({
    type: `urn:sidecart:problem:${problem.code}`,
    title: STATUS_CODES[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
    instance: req.url?.split('?')[0],
  });
  res.writeHead(problem.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': req.headers['x-request-id'] ?? randomUUID(),
    ...problem.headers,
  });
  res.end(body);
}
