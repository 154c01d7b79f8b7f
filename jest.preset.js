import { fileURLToPath } from 'node:url';

// Shared jest settings: ESM + @swc/jest (type stripping only; `tsc -b` type-checks).
export const preset = {
  testEnvironment: 'node',
  // After each test file, what @dapr/dapr's index left on the worker's process.stdout.
  setupFilesAfterEnv: [
    fileURLToPath(new URL('./dev/test/sdk-logger-teardown.ts', import.meta.url)),
  ],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2024' }, module: { type: 'es6' } },
    ],
  },
  testMatch: ['<rootDir>/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/.data/'],
  testTimeout: 30_000,
};

/** Projects that need the shared embedded PostgreSQL cluster (one per jest run). */
export const withPostgres = {
  globalSetup: '<rootDir>/../../dev/src/postgres/jest-global-setup.ts',
  globalTeardown: '<rootDir>/../../dev/src/postgres/jest-global-teardown.ts',
};
