export default {
  projects: ['<rootDir>/packages/*', '<rootDir>/services/*', '<rootDir>/dev', '<rootDir>/test'],
  // Per-project testTimeout is ignored when several projects run: this is the default for all;
  // system tests pass their own, longer timeouts to their hooks and tests.
  testTimeout: 30_000,
};
