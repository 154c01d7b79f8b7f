import type { Server, ServerResponse } from 'node:http';
import type Koa from 'koa';
import { ConfigError } from './config.ts';
import type { Lifecycle } from './http/health.ts';
import type { Logger } from './logger.ts';

// Not an ESM import: that reads node:http's lazy WebSocket export, which loads Node's bundled
// undici (ADR 0013).
const http = process.getBuiltinModule('node:http');

export interface ServeOptions {
  app: Koa;
  lifecycle: Lifecycle;
  host: string;
  port: number;
  logger: Logger;
  /** How long in-flight requests may take before their connections are cut. */
  graceMs: number;
  /** Runs after the server stopped taking requests: close pools, flush buffers. */
  onClose?: () => Promise<void>;
  /** Drain on SIGTERM/SIGINT and exit (default); tests call shutdown() themselves. */
  handleSignals?: boolean;
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to the grace), then runs onClose. */
  shutdown(reason: string): Promise<void>;
}

/** Listens, and drains gracefully on SIGTERM/SIGINT (readiness turns 503 at once). */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const inFlight = new Set<ServerResponse>();
  const handle = options.app.callback();
  // What app.listen() does, with the response tracked in the same listener: a second 'request'
  // listener made Node copy the listener list on every request, and `once` wrap a closure per
  // response — together a visible share of a cached read.
  const server = http.createServer((request, response) => {
    inFlight.add(response);
    response.on('close', forget);
    void handle(request, response);
  });
  server.listen(options.port, options.host);
  // Keep-alive connections must outlive the ingress' idle timeout, or it reuses a closed socket.
  server.keepAliveTimeout = 65_000;
  function forget(this: ServerResponse) {
    inFlight.delete(this);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve).once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string) => (closing ??= drain(server, inFlight, options, reason));
  const signals = options.handleSignals === false ? [] : (['SIGTERM', 'SIGINT'] as const);
  for (const signal of signals) {
    process.once(signal, () => {
      shutdown(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          options.logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
  options.logger.info({ port }, 'listening');
  return { server, port, shutdown };
}

async function drain(
  server: Server,
  inFlight: Set<ServerResponse>,
  options: ServeOptions,
  reason: string,
): Promise<void> {
  options.logger.info({ reason }, 'shutting down');
  options.lifecycle.isShuttingDown = true;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A finished response leaves a keep-alive connection open, and server.close() would wait out
  // the whole grace for it: end each connection after its in-flight response instead.
  for (const response of inFlight) {
    if (!response.headersSent) response.setHeader('connection', 'close');
    else response.once('close', () => server.closeIdleConnections());
  }
  const timer = setTimeout(() => server.closeAllConnections(), options.graceMs);
  await closed;
  clearTimeout(timer);
  await options.onClose?.();
  options.logger.info('stopped');
}

/**
 * Runs a service's start-up; a bad configuration prints its list of problems and exits 78
 * (EX_CONFIG), any other start-up failure is logged and exits 1.
 */
export async function startService(main: () => Promise<unknown>): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`start-up failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
}
