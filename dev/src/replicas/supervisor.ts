import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  Replica,
  type ReplicaExit,
  type ReplicaOptions,
  type ReplicaStatus,
  type ReplicaTiming,
} from './replica.ts';

/** One service as the supervisor runs it: which script, with which environment. */
export interface ServicePlan {
  name: string;
  script: string;
  /** The environment of every replica except PORT and SERVICE_REPLICA. */
  env: Record<string, string | undefined>;
  /** A dev sidecar beside every replica: its script and environment (ports are added per spawn). */
  sidecar?: { script: string; env: Record<string, string | undefined> };
}

export interface SupervisorOptions {
  replicas: number;
  cwd: string;
  logsDir: string;
  onOutput?: ReplicaOptions['onOutput'];
  timing?: Partial<ReplicaTiming>;
}

export interface Target {
  replica: string;
  port: number;
}

/** Keeps N replicas of each service running and knows which of them can take traffic. */
export class Supervisor extends EventEmitter<{ change: [ReplicaStatus]; exit: [ReplicaExit] }> {
  readonly #replicas = new Map<string, Replica[]>();

  constructor(plans: ServicePlan[], options: SupervisorOptions) {
    super();
    mkdirSync(options.logsDir, { recursive: true });
    for (const plan of plans) {
      const replicas = Array.from({ length: options.replicas }, (_, index) => {
        const name = `${plan.name}-${index}`;
        const replica = new Replica({
          appId: plan.name,
          replica: name,
          script: plan.script,
          cwd: options.cwd,
          env: { ...plan.env, SERVICE_REPLICA: name },
          logFile: path.join(options.logsDir, `${name}.log`),
          sidecar: plan.sidecar && {
            ...plan.sidecar,
            logFile: path.join(options.logsDir, `${name}-daprd.log`),
          },
          onOutput: options.onOutput,
          timing: options.timing,
        });
        replica.on('change', (status) => this.emit('change', status));
        replica.on('exit', (exit) => this.emit('exit', exit));
        return replica;
      });
      this.#replicas.set(plan.name, replicas);
    }
  }

  async start(): Promise<void> {
    await Promise.all(this.#all().map((replica) => replica.start()));
  }

  /** The replicas of a service that answer /readyz, in a stable order. */
  healthyTargets(service: string): Target[] {
    return (this.#replicas.get(service) ?? [])
      .map((replica) => replica.status)
      .filter((status) => status.state === 'healthy' && status.appPort !== null)
      .map((status) => ({ replica: status.replica, port: status.appPort! }));
  }

  markUnreachable(replica: string): void {
    this.#all()
      .find((candidate) => candidate.options.replica === replica)
      ?.markUnreachable();
  }

  statuses(service: string): ReplicaStatus[] {
    return (this.#replicas.get(service) ?? []).map((replica) => replica.status);
  }

  allStatuses(): ReplicaStatus[] {
    return this.#all().map((replica) => replica.status);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#all().map((replica) => replica.stop()));
  }

  async kill(): Promise<void> {
    await Promise.all(this.#all().map((replica) => replica.kill()));
  }

  #all(): Replica[] {
    return [...this.#replicas.values()].flat();
  }
}
