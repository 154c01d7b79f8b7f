import http from 'node:http';

/** GET /readyz on a replica: the status code, or undefined when it did not answer in time. */
export function probeReady(port: number, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: timeoutMs },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}
