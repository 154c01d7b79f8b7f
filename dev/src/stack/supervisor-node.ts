import path from 'node:path';

// How the supervisor's own Node runs (start.ts): imported before anything else of the stack, so
// it imports nothing itself.

/** The replicas' compile cache, config.ts `compileCacheDir` (a test keeps the two equal). */
export const supervisorCompileCache = path.join(
  import.meta.dirname,
  '../../../node_modules/.cache/sidecart-node',
);

/**
 * V8 grows the young generation to 16 MiB per semi-space while modules load and never gives it
 * back; the supervisor allocates little once the stack runs (health checks, stack.json).
 */
export const supervisorNodeFlags = ['--max-semi-space-size=1'];
