/** Set by the jest global setup (dev/src/postgres/jest-global-setup.ts): the shared test cluster's admin URL. */
export function testDatabaseAdminUrl(): string {
  const url = process.env.SIDECART_TEST_DATABASE_URL;
  if (!url)
    throw new Error('No test PostgreSQL: run tests through jest (its global setup starts one)');
  return url;
}
