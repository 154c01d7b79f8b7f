import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../stack/ports.ts';
import { startPostgres, type PostgresServer } from './cluster.ts';

declare global {
  var sidecartTestPostgres: PostgresServer | undefined;
}

/**
 * One embedded cluster per jest run, shared by every project that asks for it; each test file
 * then creates its own database (see @sidecart/chassis/testing).
 */
export default async function startTestPostgres() {
  if (globalThis.sidecartTestPostgres) return;
  const root = mkdtempSync(path.join(tmpdir(), 'sidecart-test-'));
  chmodSync(root, 0o755);
  const server = await startPostgres({
    dataDir: path.join(root, 'pg'),
    port: await freePort(),
    ephemeral: true,
  });
  globalThis.sidecartTestPostgres = server;
  // Workers inherit the environment of the jest process.
  process.env.SIDECART_TEST_DATABASE_URL = server.url('postgres');
}
