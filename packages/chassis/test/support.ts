import { createApp, type CreateAppOptions, type ServiceApp } from '../src/app.ts';
import { listen, silentLogger } from '../src/testing/index.ts';

export interface AppUnderTest extends ServiceApp {
  url: string;
  close(): Promise<void>;
}

/** A chassis app around the given routers, served on a free loopback port. */
export async function startApp(options: Partial<CreateAppOptions> = {}): Promise<AppUnderTest> {
  const service = createApp({ service: 'test', logger: silentLogger(), routers: [], ...options });
  const server = await listen(service.app);
  return { ...service, url: server.url, close: server.close };
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A request with fetch; a JSON body is sent as application/json unless headers say otherwise. */
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined || options.rawBody !== undefined)
    headers['content-type'] ??= 'application/json';
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
