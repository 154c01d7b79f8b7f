import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the fake answers; `hang` never answers (until close). */
export type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

export interface FakeSidecar {
  port: number;
  /** Requests other than the SDK's GET /v1.0/metadata readiness polls. */
  requests: RecordedRequest[];
  /** Decides the answer to the next requests; 404 until set. */
  reply: (request: RecordedRequest) => Reply;
  close(): Promise<void>;
}

/**
 * Stands in for daprd at the edge, with its response shapes (docs/dapr-behaviour.md): JSON bodies as
 * application/json, 204 without a body, GET /v1.0/metadata → 200 JSON (the SDK's readiness probe).
 */
export async function startFakeSidecar(): Promise<FakeSidecar> {
  const fake: FakeSidecar = {
    port: 0,
    requests: [],
    reply: () => ({ status: 404 }),
    close: async () => undefined,
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    if (request.method === 'GET' && request.url === '/v1.0/metadata') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'fake', runtimeVersion: 'edge', components: [] }));
      return;
    }
    fake.requests.push(request);
    const reply = fake.reply(request);
    if (reply === 'hang') return;
    const json = reply.body !== undefined && typeof reply.body !== 'string';
    res.writeHead(reply.status, {
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...reply.headers,
    });
    res.end(json ? JSON.stringify(reply.body) : reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return fake;
}

/** A legacy Dapr error body (docs/dapr-behaviour.md §1.1). */
export const daprError = (status: number, errorCode: string, message: string): Reply => ({
  status,
  body: { errorCode, message },
});
