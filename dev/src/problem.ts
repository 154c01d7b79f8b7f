import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const titles: Record<number, string> = {
  404: 'Not Found',
  413: 'Content Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Answers with an RFC 9457 body shaped like the services' own errors. */
export function sendProblem(
  req: IncomingMessage,
  res: ServerResponse,
  problem: { status: number; code: string; detail: string; headers?: Record<string, string> },
): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title: titles[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
  });
  res.writeHead(problem.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': req.headers['x-request-id'] ?? randomUUID(),
    ...problem.headers,
  });
  res.end(body);
}
