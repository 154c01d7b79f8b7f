import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { appendLogNote, logTail } from './log-files.ts';
import { freePort } from './ports.ts';
import { signalGroup } from './processes.ts';
import { probeReady } from './readiness.ts';
import { spawnReplica, startedNote, type ReplicaLaunch } from './replica-process.ts';

export type ReplicaState =
  'starting' | 'healthy' | 'unhealthy' | 'stopping' | 'restarting' | 'stopped';

/** What stack.json and the console show of a replica. */
export interface ReplicaStatus {
  appId: string;
  replica: string;
  appPort: number | null;
  pid: number | null;
  state: ReplicaState;
  restarts: number;
  /** Filled in once replicas get their dev sidecar. */
  sidecarPort: number | null;
}

export interface ReplicaTiming {
  pollMs: number;
  startTimeoutMs: number;
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** A replica that ran this long before dying restarts after the first back-off again. */
  stableMs: number;
  stopGraceMs: number;
}

export const defaultTiming: ReplicaTiming = {
  pollMs: 250,
  startTimeoutMs: 60_000,
  firstBackoffMs: 250,
  maxBackoffMs: 5_000,
  stableMs: 10_000,
  // Longer than the services' own drain (SHUTDOWN_GRACE_MS, 10 s), so they get to finish it.
  stopGraceMs: 15_000,
};

/** How to launch it (PORT is chosen per spawn) and how patiently to supervise it. */
export type ReplicaOptions = Omit<ReplicaLaunch, 'port'> & {
  appId: string;
  timing?: Partial<ReplicaTiming>;
};

export interface ReplicaExit {
  replica: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  restartInMs: number;
  logTail: string[];
}

/** One replica process, kept alive: spawned, probed for readiness, restarted with back-off. */
export class Replica extends EventEmitter<{ change: [ReplicaStatus]; exit: [ReplicaExit] }> {
  readonly options: ReplicaOptions;
  readonly timing: ReplicaTiming;
  #status: ReplicaStatus;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #spawnedAt = 0;
  #backoffMs: number;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: ReplicaOptions) {
    super();
    this.options = options;
    this.timing = { ...defaultTiming, ...options.timing };
    this.#backoffMs = this.timing.firstBackoffMs;
    this.#status = {
      appId: options.appId,
      replica: options.replica,
      appPort: null,
      pid: null,
      state: 'starting',
      restarts: 0,
      sidecarPort: null,
    };
  }

  get status(): ReplicaStatus {
    return { ...this.#status };
  }

  async start(): Promise<void> {
    // Keep the port across restarts when it is still free: bookmarks and logs stay meaningful.
    const port = await freePort(this.#status.appPort ?? 0);
    if (this.#stopping) return;
    const { replica, script, cwd, env, logFile, onOutput } = this.options;
    const child = spawnReplica({ replica, script, cwd, env, port, logFile, onOutput });
    this.#child = child;
    this.#spawnedAt = Date.now();
    this.#failures = 0;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => this.#onExit(code, signal));
    child.once('error', (error) => {
      appendLogNote(this.options.logFile, 'dev', String(error));
      if (child.pid === undefined) this.#onExit(null, null);
    });
    this.#update({ appPort: port, pid: child.pid ?? null, state: 'starting' });
    this.#schedule(() => this.#probe(), this.timing.pollMs);
  }

  /** The ingress could not connect: stop routing here until the next probe succeeds. */
  markUnreachable(): void {
    if (this.#status.state === 'healthy') this.#update({ state: 'unhealthy' });
  }

  /** SIGTERM (the replica drains), SIGKILL after the grace period; no restart afterwards. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    const pid =
      this.#child?.exitCode === null && this.#child.signalCode === null
        ? this.#child.pid
        : undefined;
    if (pid === undefined) return this.#update({ state: 'stopped', pid: null });
    this.#update({ state: 'stopping' });
    signalGroup(pid, 'SIGTERM');
    const graceOver = new Promise<'grace-over'>((resolve) =>
      setTimeout(resolve, this.timing.stopGraceMs, 'grace-over').unref(),
    );
    if ((await Promise.race([this.#exited, graceOver])) === 'grace-over') {
      signalGroup(pid, 'SIGKILL');
      await this.#exited;
    }
  }

  /** SIGKILL at once (a second Ctrl-C); resolves when it is gone. */
  kill(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    if (this.#child?.pid !== undefined) signalGroup(this.#child.pid, 'SIGKILL');
    return this.#exited;
  }

  async #probe(): Promise<void> {
    const port = this.#status.appPort!;
    const status = await probeReady(port, Math.max(this.timing.pollMs * 4, 1000));
    const { state } = this.#status;
    if (this.#stopping || (state !== 'starting' && state !== 'healthy' && state !== 'unhealthy'))
      return;
    if (status === 200) {
      this.#failures = 0;
      this.#update({ state: 'healthy' });
    } else if (state === 'starting') {
      if (Date.now() - this.#spawnedAt > this.timing.startTimeoutMs) {
        appendLogNote(this.options.logFile, 'dev', 'not ready in time: killing it');
        signalGroup(this.#status.pid!, 'SIGKILL');
      }
    } else if (status !== undefined || ++this.#failures >= 2) {
      // An explicit 503 (draining) counts at once; a missed probe may be a GC pause, two are not.
      this.#update({ state: 'unhealthy' });
    }
    this.#schedule(() => this.#probe(), this.timing.pollMs);
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(this.#timer);
    this.#child = undefined;
    if (this.#stopping) return this.#update({ state: 'stopped', pid: null });
    if (Date.now() - this.#spawnedAt >= this.timing.stableMs)
      this.#backoffMs = this.timing.firstBackoffMs;
    const restartInMs = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.timing.maxBackoffMs);
    this.#update({ state: 'restarting', pid: null });
    const tail = logTail(this.options.logFile, 6, startedNote(this.options.replica));
    this.emit('exit', { replica: this.options.replica, code, signal, restartInMs, logTail: tail });
    this.#schedule(() => {
      this.#status.restarts += 1;
      return this.start();
    }, restartInMs);
  }

  #schedule(task: () => Promise<void>, delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      task().catch((error: unknown) => appendLogNote(this.options.logFile, 'dev', String(error)));
    }, delayMs);
  }

  #update(change: Partial<ReplicaStatus>): void {
    const before = JSON.stringify(this.#status);
    Object.assign(this.#status, change);
    if (JSON.stringify(this.#status) !== before) this.emit('change', this.status);
  }
}
