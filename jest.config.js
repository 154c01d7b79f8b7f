import { daprdLaneMissing } from './dev/src/reference/lane.ts';

// The daprd lane runs the dev sidecar's conformance suite against real daprd, when one is built
// (`npm run reference:build`) and redis-server is installed; otherwise it is skipped, saying why.
const daprdMissing = daprdLaneMissing();
if (daprdMissing) console.warn(`daprd lane skipped: ${daprdMissing}`);

export default {
  projects: [
    '<rootDir>/packages/*',
    '<rootDir>/services/*',
    '<rootDir>/dev',
    '<rootDir>/test',
    ...(daprdMissing
      ? []
      : ['<rootDir>/dev/jest.daprd.config.js', '<rootDir>/test/jest.daprd.config.js']),
  ],
  // Per-project testTimeout is ignored when several projects run: this is the default for all;
  // system tests pass their own, longer timeouts to their hooks and tests.
  testTimeout: 30_000,
};
