import { startScratchPostgres, type PostgresServer } from './cluster.ts';

declare global {
  var sidecartTestPostgres: PostgresServer | undefined;
}

/**
 * One embedded cluster per jest run, shared by every project that asks for it; each test file
 * then creates its own database (see @sidecart/chassis/testing).
 */
export default async function startTestPostgres() {
  if (globalThis.sidecartTestPostgres) return;
  const { postgres: server } = await startScratchPostgres('sidecart-test-');
  globalThis.sidecartTestPostgres = server;
  // Workers inherit the environment of the jest process.
  process.env.SIDECART_TEST_DATABASE_URL = server.url('postgres');
}
