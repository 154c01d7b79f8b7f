import { supervisorCompileCache, supervisorNodeFlags } from './stack/supervisor-node.ts';

// `npm start`: the supervisor of the local stack (stack/main.ts). It idles beside the replicas
// for hours, so it first becomes what they are: this process replaces itself (execve: same pid,
// same arguments) with one that has Node's compile cache on — a process whose modules are all
// cached never loads the TypeScript stripper, ~17 MiB resident — and a small young generation
// (docs/decisions/0013-lean-processes.md). Nothing of the stack is imported before that: it
// would be loaded for nothing.
const settled = supervisorNodeFlags.every((flag) => process.execArgv.includes(flag));
// process.execve is missing on Windows: there the supervisor runs as it was started.
if (!settled && typeof process.execve === 'function') {
  process.execve(
    process.execPath,
    // The caller's own flags (--import, --inspect…) after ours: theirs win.
    [process.execPath, ...supervisorNodeFlags, ...process.execArgv, ...process.argv.slice(1)],
    // eslint-disable-next-line no-restricted-properties -- passed on whole; config.ts reads it
    { NODE_COMPILE_CACHE: supervisorCompileCache, ...process.env },
  );
}

await import('./stack/main.ts');
