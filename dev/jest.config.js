import { preset } from '../jest.preset.js';

export default {
  ...preset,
  displayName: 'dev',
  // The shared embedded PostgreSQL of the run (the sidecar tests need one); paths from dev/ itself.
  globalSetup: '<rootDir>/src/postgres/jest-global-setup.ts',
  globalTeardown: '<rootDir>/src/postgres/jest-global-teardown.ts',
};
