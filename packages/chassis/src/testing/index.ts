import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import pg from 'pg';
import { createLogger } from '../logger.ts';
import { testDatabaseAdminUrl } from './config.ts';

/** A fresh, empty database on the shared test cluster; one per test file. */
export async function createTestDatabase(prefix: string): Promise<string> {
  const adminUrl = testDatabaseAdminUrl();
  const name = `${prefix.replace(/\W/g, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`create database ${pg.escapeIdentifier(name)} template template0`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A logger that writes nothing (set LOG_LEVEL-like verbosity here when debugging a test). */
let silent: ReturnType<typeof createLogger> | undefined;
/** One per process: every pino logger adds a listener to stdout, and tests make many. */
export const silentLogger = () => (silent ??= createLogger('test', 'silent'));

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** Serves an app on a free loopback port: tests talk real HTTP to it with fetch. */
export async function listen(app: Koa): Promise<TestServer> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read bodies loosely
export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * A request with fetch for API tests: a JSON body is sent as application/json unless headers say
 * otherwise, `token` becomes a bearer Authorization header, JSON answers are parsed.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read bodies loosely
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  options: {
    body?: unknown;
    rawBody?: string;
    token?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined || options.rawBody !== undefined)
    headers['content-type'] ??= 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body:
      options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  const isJson = /json/.test(response.headers.get('content-type') ?? '');
  return {
    status: response.status,
    headers: response.headers,
    body: isJson && text ? JSON.parse(text) : text,
  };
}

type Truthy<T> = Exclude<T, null | undefined | false | 0 | ''>;

/** Polls until `check` returns a truthy value; fails with `what` after the deadline. */
export async function eventually<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 5000,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A small seeded generator for hostile-input tests, so a failing body can be reproduced from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Path ids no route may take for a UUID: SQL, a NUL, traversal, one character too many, emoji. */
export const hostileIds = [
  "1' OR '1'='1",
  '%00',
  '..%2F..%2F',
  'ffffffff-ffff-ffff-ffff-fffffffffffff',
  '💥',
];
