import { preset } from '../jest.preset.js';

// System tests start whole stacks (their own PostgreSQL each); each file sets its own, longer
// timeout (jest.setTimeout), since a project's testTimeout is ignored when several projects run.
export default { ...preset, displayName: 'system' };
