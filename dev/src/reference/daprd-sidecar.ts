import { spawn } from 'node:child_process';
import { daprdSidecarConfig } from './config.ts';
import { daprdArgs } from './daprd-args.ts';

// `npm start -- --sidecar daprd` runs this beside every replica where it would run the dev
// sidecar: it picks daprd's other ports and runs daprd as its child, with the same environment.
let config;
try {
  config = daprdSidecarConfig();
} catch (error) {
  console.error((error as Error).message);
  process.exit(78);
}
const parent = process.ppid;
const daprd = spawn(config.daprd, await daprdArgs(config), { stdio: 'inherit' });
daprd.once('error', (error) => {
  console.error(`cannot run ${config.daprd}: ${error.message}`);
  process.exit(1);
});
daprd.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

// The supervisor signals the replica's whole process group, daprd included, and daprd exits at
// once on a second signal: forward only when the supervisor is gone (the orphan guard's SIGTERM).
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (process.ppid !== parent) daprd.kill(signal);
  });
}
