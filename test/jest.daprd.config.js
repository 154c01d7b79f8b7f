import { preset } from '../jest.preset.js';

// The daprd system lane: the journeys through the ingress of a whole stack whose replicas run
// beside real daprd (`npm start -- --sidecar daprd`). The root jest.config.js adds it only when
// daprd and redis-server are there.
export default {
  ...preset,
  displayName: 'system-daprd',
  testMatch: ['<rootDir>/e2e/**/*.test.ts'],
  setupFiles: ['<rootDir>/e2e/daprd-lane.ts'],
};
