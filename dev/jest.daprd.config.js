import { preset } from '../jest.preset.js';

// The daprd lane: the dev sidecar's conformance suite (test/sidecar/), run against real daprd
// from the cache (`npm run reference:build`). The root jest.config.js adds it only when daprd
// and redis-server are there.
export default {
  ...preset,
  displayName: 'daprd',
  testMatch: ['<rootDir>/test/sidecar/**/*.test.ts'],
  // Tests of the dev sidecar's own parts, with no daprd counterpart: its resource loader,
  // ACL compiler and resiliency engine (unit tests), the internal token standing in for mTLS,
  // and the PostgreSQL broker's tables. Single tests of that kind elsewhere use testDevOnly.
  testPathIgnorePatterns: [
    ...preset.testPathIgnorePatterns,
    '/test/sidecar/(resources|access-control|resiliency|internal-auth)\\.test\\.ts$',
    '/test/sidecar/pubsub-(broker|shutdown)\\.test\\.ts$',
  ],
  setupFiles: ['<rootDir>/test/sidecar/daprd-lane.ts'],
  globalSetup: '<rootDir>/src/postgres/jest-global-setup.ts',
  globalTeardown: '<rootDir>/src/postgres/jest-global-teardown.ts',
};
