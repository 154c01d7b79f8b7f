import { createApp, type CreateAppOptions, type ServiceApp } from '../src/app.ts';
import { listen, silentLogger } from '../src/testing/index.ts';

export { call, type JsonResponse } from '../src/testing/index.ts';

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
