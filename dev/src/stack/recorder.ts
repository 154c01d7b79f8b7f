import type { DevConfig } from './config.ts';
import type { IngressProcess } from '../ingress/ingress-process.ts';
import type { ReplicaStatus } from '../replicas/replica.ts';
import type { ServiceDefinition } from './services.ts';
import { writeStackFile, type StackFile } from './stack-file.ts';

export interface StackRecorder {
  readonly current: StackFile;
  update(change: Partial<StackFile>): void;
  updateReplica(status: ReplicaStatus): void;
}

/** Keeps stack.json in step with the stack: rewritten on every change, and only then. */
export function recordStack(initial: StackFile): StackRecorder {
  const current: StackFile = structuredClone(initial);
  let written = '';
  const write = () => {
    const text = JSON.stringify(current);
    if (text === written) return;
    writeStackFile(current.dataDir, current);
    written = text;
  };
  write();
  return {
    current,
    update(change) {
      Object.assign(current, change);
      write();
    },
    updateReplica(status) {
      const replicas = current.services[status.appId]?.replicas;
      if (!replicas) return;
      const index = replicas.findIndex((replica) => replica.replica === status.replica);
      if (index === -1) replicas.push(status);
      else replicas[index] = status;
      write();
    },
  };
}

/** The stack as soon as the ingress listens: nothing else runs yet. */
export function initialStackFile(
  config: DevConfig,
  services: ServiceDefinition[],
  logsDir: string,
  ingress: IngressProcess,
): StackFile {
  return {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    state: 'starting',
    ready: false,
    dataDir: config.dataDir,
    logsDir,
    ingress: { url: ingress.url, port: ingress.port, pid: ingress.pid },
    postgres: null,
    services: Object.fromEntries(
      services.map((service) => [
        service.name,
        { prefixes: service.prefixes, database: service.database, replicas: [] },
      ]),
    ),
  };
}
