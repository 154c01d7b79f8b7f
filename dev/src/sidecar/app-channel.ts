import type { ClientRequest, OutgoingHttpHeaders } from 'node:http';
import { http } from './node-http.ts';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppChannel, AppResponse } from './types.ts';

export interface AppChannelOptions {
  host: string;
  port: number;
  /** APP_API_TOKEN: sent as `dapr-api-token` on every call to the app (docs/dapr-behaviour.md §1.2). */
  appApiToken?: string;
}

/** The app channel plus a streaming call, which service invocation uses to pass bodies through. */
export interface StreamingAppChannel extends AppChannel {
  /**
   * Starts a call to the app and returns it unsent: the caller writes or pipes the body and ends
   * it. `headers` must hold no hop-by-hop header; the app token is added here.
   */
  open(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    signal?: AbortSignal,
  ): ClientRequest;
  /** Drops the kept-alive connections. */
  close(): void;
}

const reachablePollMs = 50;
// Below Node's default server keep-alive (5 s): we never reuse a socket the app is closing.
const idleSocketMs = 4000;

/** daprd's app channel: HTTP to the app on a keep-alive agent, no timeout (docs/dapr-behaviour.md §2.5). */
export function createAppChannel(options: AppChannelOptions): StreamingAppChannel {
  const { host, port, appApiToken } = options;
  const agent = new http.Agent({ keepAlive: true, timeout: idleSocketMs });

  const open: StreamingAppChannel['open'] = (method, path, headers, signal) =>
    http.request({
      host,
      port,
      method,
      path,
      headers: appApiToken ? { ...headers, 'dapr-api-token': appApiToken } : headers,
      agent,
      signal,
    });

  return {
    host,
    port,
    open,
    close: () => agent.destroy(),
    async waitUntilReachable(signal) {
      while (!(await acceptsConnections(host, port))) {
        await sleep(reachablePollMs, undefined, { signal });
      }
    },
    request: (method, path, headers, body, signal) =>
      new Promise<AppResponse>((resolve, reject) => {
        const request = open(method, path, headers, signal);
        request.once('error', reject);
        request.once('response', (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.once('error', reject);
          response.once('end', () =>
            resolve({
              status: response.statusCode ?? 500,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
          );
        });
        request.end(body);
      }),
  };
}

/** Whether the streaming call is available (a test may hand invocation a simpler channel). */
export const isStreamingChannel = (channel: AppChannel): channel is StreamingAppChannel =>
  typeof (channel as Partial<StreamingAppChannel>).open === 'function';

function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
