import { rmSync } from 'node:fs';
import path from 'node:path';

export default async function stopTestPostgres() {
  const server = globalThis.sidecartTestPostgres;
  if (!server) return;
  globalThis.sidecartTestPostgres = undefined;
  await server.stop();
  rmSync(path.dirname(server.dataDir), { recursive: true, force: true });
}
