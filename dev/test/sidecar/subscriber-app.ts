import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  event: any;
  /** Date.now() on arrival. */
  at: number;
}

/** How the app answers a delivery: a status (and body), a reset connection, or never. */
export type Reply = { status: number; body?: string } | 'reset' | 'hang';

export type SubscriberApp = Awaited<ReturnType<typeof startSubscriberApp>>;

/**
 * An app on a free port: serves `subscriptions` at /dapr/subscribe, records every POST it gets
 * and answers it as `reply` says (200 by default).
 */
export async function startSubscriberApp(
  subscriptions: unknown,
  reply: (delivery: Delivery) => Reply = () => ({ status: 200 }),
) {
  const received: Delivery[] = [];
  let subscribeCalls = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/dapr/subscribe') {
        subscribeCalls += 1;
        return void response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(subscriptions));
      }
      if (request.method !== 'POST') return void response.writeHead(404).end();
      const body = Buffer.concat(chunks).toString('utf8');
      const delivery = {
        path: request.url!,
        headers: request.headers,
        body,
        event: JSON.parse(body),
        at: Date.now(),
      };
      received.push(delivery);
      const answer = reply(delivery);
      if (answer === 'reset') return void request.socket.destroy();
      if (answer !== 'hang') response.writeHead(answer.status).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    subscribeCalls: () => subscribeCalls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
