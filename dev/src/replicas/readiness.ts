// Not an ESM import: that reads node:http's lazy WebSocket export, which loads undici — some
// 14 MiB resident in the supervisor (see sidecar/node-http.ts).
const http = process.getBuiltinModule('node:http');

/**
 * GET a replica's probe route (`/readyz` for traffic, `/healthz` for liveness): the status code,
 * or undefined when it did not answer in time.
 */
export function probe(
  port: number,
  route: '/readyz' | '/healthz',
  timeoutMs: number,
): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: route, agent: false, timeout: timeoutMs },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}
