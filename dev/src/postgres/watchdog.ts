import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stopPostmaster } from './process.ts';
import { isAlive, waitUntil } from '../stack/processes.ts';
import { readStackFile, removeStackFile } from '../stack/stack-file.ts';

// The second half of the watchdog beside every embedded postmaster: watchdog.sh, which watches,
// becomes this (exec) once the process that started PostgreSQL (the supervisor of `npm start`,
// a jest run) is gone. The postmaster is detached, so a SIGKILLed owner cannot take it along:
// this lets the owner's replicas finish draining (they still use the database), stops
// PostgreSQL and removes the owner's stack.json, as its own shutdown would have.
const { values } = parseArgs({
  options: {
    postmaster: { type: 'string' },
    owner: { type: 'string' },
    'stack-dir': { type: 'string' },
    remove: { type: 'string' },
  },
});
const postmaster = Number(values.postmaster);
const owner = Number(values.owner);
/** The replicas' orphan guard notices in a second; their drain takes up to SHUTDOWN_GRACE_MS. */
const replicaDrainMs = 20_000;

const note = (message: string) =>
  console.log(`${new Date().toISOString()} [dev watchdog] LOG:  ${message}`);

await cleanUp().then(
  () => process.exit(0),
  (error: unknown) => {
    note(`could not stop PostgreSQL: ${String(error)}`);
    process.exit(1);
  },
);

async function cleanUp(): Promise<void> {
  const stackDir = values['stack-dir'];
  const stack = stackDir ? readStackFile(stackDir) : undefined;
  const ours = stack?.pid === owner;
  note(`its owner (pid ${owner}) is gone; stopping PostgreSQL (pid ${postmaster})`);
  if (ours) {
    const replicas = Object.values(stack.services).flatMap((service) =>
      service.replicas.flatMap((replica) => [replica.pid, replica.sidecarPid]),
    );
    const pids = replicas.filter((pid): pid is number => pid !== null);
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), replicaDrainMs, 250);
  }
  await stopPostmaster(postmaster);
  if (ours) removeStackFile(stackDir!);
  if (values.remove) rmSync(values.remove, { recursive: true, force: true });
  note('PostgreSQL stopped');
}
