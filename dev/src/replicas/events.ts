import { report } from '../stack/console-report.ts';
import type { ReplicaState } from './replica.ts';
import type { StackRecorder } from '../stack/recorder.ts';
import type { Supervisor } from './supervisor.ts';

/**
 * Records every replica change in stack.json and tells the console about the ones a developer
 * cares about: first ready, not ready, crashed, back. Returns the replicas that were ever ready.
 */
export function watchReplicas(supervisor: Supervisor, recorder: StackRecorder): Set<string> {
  const everReady = new Set<string>();
  const spawnedAt = new Map<string, number>();
  const lastState = new Map<string, ReplicaState>();
  supervisor.on('change', (status) => {
    recorder.updateReplica(status);
    const previous = lastState.get(status.replica);
    lastState.set(status.replica, status.state);
    if (status.state === previous) return;
    if (status.state === 'starting') spawnedAt.set(status.replica, Date.now());
    if (status.state === 'healthy' && !everReady.has(status.replica)) {
      everReady.add(status.replica);
      const where = `http://127.0.0.1:${status.appPort} (pid ${status.pid})`;
      report.step(
        `${status.replica} ready on ${where}`,
        Date.now() - (spawnedAt.get(status.replica) ?? 0),
      );
    } else if (status.state === 'healthy') {
      report.step(
        `${status.replica} healthy again (pid ${status.pid}, restarts ${status.restarts})`,
      );
    } else if (status.state === 'unhealthy') {
      report.warn(
        `${status.replica} is not ready (pid ${status.pid}): no traffic until /readyz answers 200`,
      );
    }
  });
  supervisor.on('exit', (exit) => {
    const how = exit.killedBecause
      ? `${exit.killedBecause}: killed by the supervisor with its sidecar`
      : exit.signal
        ? `killed by ${exit.signal}`
        : `exit code ${exit.code}`;
    report.warn(
      `${exit.replica} exited (${how}); restarting in ${exit.restartInMs} ms. Its log ends with:`,
      exit.logTail,
    );
  });
  return everReady;
}
