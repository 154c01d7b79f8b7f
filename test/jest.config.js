import { preset } from '../jest.preset.js';

// System tests start whole stacks (their own PostgreSQL each): give them room.
export default { ...preset, displayName: 'system', testTimeout: 120_000 };
