import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { appendLogNote, logTail } from '../stack/log-files.ts';
import { freePort } from '../stack/ports.ts';
import { signalGroup } from '../stack/processes.ts';
import { probe } from './readiness.ts';
import { spawnReplica, startedNote, type ReplicaLaunch } from './process.ts';

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
  /** The Dapr HTTP port of the replica's dev sidecar (null: no sidecar). */
  sidecarPort: number | null;
  sidecarPid: number | null;
}

export interface ReplicaTiming {
  pollMs: number;
  startTimeoutMs: number;
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** A replica that ran this long before dying restarts after the first back-off again. */
  stableMs: number;
  stopGraceMs: number;
  /**
   * A replica out of traffic whose /healthz has not answered 200 for this long (hung, deadlocked,
   * SIGSTOPped) is SIGKILLed with its sidecar and restarted, like a failing liveness probe.
   */
  unhealthyLimitMs: number;
}

export const defaultTiming: ReplicaTiming = {
  pollMs: 250,
  startTimeoutMs: 60_000,
  firstBackoffMs: 250,
  maxBackoffMs: 5_000,
  stableMs: 10_000,
  // Longer than the services' own drain (SHUTDOWN_GRACE_MS, 10 s), so they get to finish it.
  stopGraceMs: 15_000,
  unhealthyLimitMs: 10_000,
};

/** The dev sidecar beside a replica (like daprd in its pod): started first, stopped with it. */
export interface SidecarLaunch {
  script: string;
  env: Record<string, string | undefined>;
  logFile: string;
}

/** How to launch it (ports are chosen per spawn) and how patiently to supervise it. */
export type ReplicaOptions = Omit<ReplicaLaunch, 'port'> & {
  appId: string;
  sidecar?: SidecarLaunch;
  timing?: Partial<ReplicaTiming>;
};

export interface ReplicaExit {
  replica: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  restartInMs: number;
  logTail: string[];
  /** Why the supervisor killed it, when it did (hung, never ready). */
  killedBecause?: string;
}

/**
 * One replica kept alive: the app process and, when configured, its dev sidecar — a pod's two
 * containers. Spawned, probed for readiness, restarted with back-off; if either process dies the
 * other is stopped too and the pair restarts together.
 */
export class Replica extends EventEmitter<{ change: [ReplicaStatus]; exit: [ReplicaExit] }> {
  readonly options: ReplicaOptions;
  readonly timing: ReplicaTiming;
  #status: ReplicaStatus;
  #children: ChildProcess[] = [];
  #exited: Promise<void> = Promise.resolve();
  #spawnedAt = 0;
  #backoffMs: number;
  #failures = 0;
  /** When /readyz or /healthz last answered 200 (or the pair was spawned). */
  #aliveAt = 0;
  #killedBecause: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #terminating: Promise<void> | undefined;

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
      sidecarPid: null,
    };
  }

  get status(): ReplicaStatus {
    return { ...this.#status };
  }

  async start(): Promise<void> {
    // Keep ports across restarts when they are still free: bookmarks and logs stay meaningful.
    const port = await freePort(this.#status.appPort ?? 0);
    const sidecarPort = this.options.sidecar ? await freePort(this.#status.sidecarPort ?? 0) : null;
    if (this.#stopping) return;
    const { replica, script, cwd, env, logFile, onOutput, sidecar } = this.options;
    const children: ChildProcess[] = [];
    if (sidecar && sidecarPort !== null) {
      const sidecarEnv = {
        ...sidecar.env,
        APP_PORT: String(port),
        DAPR_HTTP_PORT: String(sidecarPort),
        SIDECAR_INSTANCE: replica,
      };
      const name = `${replica} daprd`;
      const launch = { replica: name, script: sidecar.script, cwd, port: sidecarPort };
      children.push(
        spawnReplica({ ...launch, env: sidecarEnv, logFile: sidecar.logFile, onOutput }),
      );
    }
    const appEnv = sidecarPort === null ? env : { ...env, DAPR_HTTP_PORT: String(sidecarPort) };
    children.push(spawnReplica({ replica, script, cwd, env: appEnv, port, logFile, onOutput }));
    this.#children = children;
    this.#spawnedAt = Date.now();
    this.#aliveAt = this.#spawnedAt;
    this.#failures = 0;
    const exits = children.map(
      (child) => new Promise<void>((resolve) => child.once('exit', () => resolve())),
    );
    this.#exited = Promise.all(exits).then(() => undefined);
    let firstExit = true;
    for (const child of children) {
      child.once('exit', (code, signal) => {
        if (!firstExit) return;
        firstExit = false;
        void this.#onExit(child, code, signal);
      });
      child.once('error', (error) => {
        appendLogNote(this.options.logFile, 'dev', String(error));
        if (child.pid === undefined && firstExit) {
          firstExit = false;
          void this.#onExit(child, null, null);
        }
      });
    }
    const app = children.at(-1)!;
    const sidecarPid = children.length > 1 ? (children[0]!.pid ?? null) : null;
    this.#update({
      appPort: port,
      sidecarPort,
      pid: app.pid ?? null,
      sidecarPid,
      state: 'starting',
    });
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
    if (this.#running().length === 0)
      return this.#update({ state: 'stopped', pid: null, sidecarPid: null });
    this.#update({ state: 'stopping' });
    await this.#terminate();
  }

  /** SIGKILL at once (a second Ctrl-C); resolves when it is gone. */
  kill(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    for (const child of this.#children) {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    }
    return this.#exited;
  }

  #running(): ChildProcess[] {
    return this.#children.filter(
      (child) => child.pid !== undefined && child.exitCode === null && child.signalCode === null,
    );
  }

  /**
   * SIGTERM the app first and its sidecar once the app is gone — daprd's graceful shutdown keeps
   * the Dapr API up while the app drains (its outbox relay may still publish) — then SIGKILL
   * whatever is left when the grace period ends.
   */
  #terminate(): Promise<void> {
    // A Ctrl-C during a crash restart must not SIGTERM twice: the second one kills mid-drain.
    this.#terminating ??= this.#signalInOrder().finally(() => (this.#terminating = undefined));
    return this.#terminating;
  }

  async #signalInOrder(): Promise<void> {
    const graceOver = new Promise<'grace-over'>((resolve) =>
      setTimeout(resolve, this.timing.stopGraceMs, 'grace-over').unref(),
    );
    const [sidecar, app] =
      this.#children.length > 1 ? this.#children : [undefined, ...this.#children];
    for (const child of [app, sidecar]) {
      if (!child || !this.#running().includes(child)) continue;
      signalGroup(child.pid!, 'SIGTERM');
      const exited = new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
        else child.once('exit', resolve);
      });
      if ((await Promise.race([exited, graceOver])) === 'grace-over') break;
    }
    for (const child of this.#running()) signalGroup(child.pid!, 'SIGKILL');
    await this.#exited;
  }

  async #probe(): Promise<void> {
    const port = this.#status.appPort!;
    const timeoutMs = Math.max(this.timing.pollMs * 4, 1000);
    const status = await probe(port, '/readyz', timeoutMs);
    if (!this.#isProbing()) return;
    if (status === 200) {
      this.#failures = 0;
      this.#aliveAt = Date.now();
      this.#update({ state: 'healthy' });
    } else if (this.#status.state === 'starting') {
      if (Date.now() - this.#spawnedAt > this.timing.startTimeoutMs) {
        return this.#killPair(`not ready within ${this.timing.startTimeoutMs} ms`);
      }
    } else {
      // An explicit 503 (draining) counts at once; a missed probe may be a GC pause, two are not.
      if (status !== undefined || ++this.#failures >= 2) this.#update({ state: 'unhealthy' });
      // Not ready is not dead (its database may be away): only a silent /healthz is. A replica
      // that did not even answer /readyz will not answer /healthz either.
      if (status !== undefined && (await probe(port, '/healthz', timeoutMs)) === 200) {
        this.#aliveAt = Date.now();
      }
      if (!this.#isProbing()) return;
      const silentMs = Date.now() - this.#aliveAt;
      if (this.#status.state === 'unhealthy' && silentMs > this.timing.unhealthyLimitMs) {
        return this.#killPair(`unhealthy for ${(silentMs / 1000).toFixed(1)} s`);
      }
    }
    this.#schedule(() => this.#probe(), this.timing.pollMs);
  }

  #isProbing(): boolean {
    const { state } = this.#status;
    return (
      !this.#stopping && (state === 'starting' || state === 'healthy' || state === 'unhealthy')
    );
  }

  /** SIGKILL (a hung process ignores SIGTERM) of app and sidecar; the exit handler restarts both. */
  #killPair(reason: string): void {
    this.#killedBecause = reason;
    appendLogNote(this.options.logFile, 'dev', `${reason}: killing it and its sidecar`);
    for (const child of this.#running()) signalGroup(child.pid!, 'SIGKILL');
  }

  async #onExit(
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    clearTimeout(this.#timer);
    if (this.#stopping) {
      await this.#exited;
      return this.#update({ state: 'stopped', pid: null, sidecarPid: null });
    }
    // The pod's other process goes too, so the pair always restarts together.
    this.#update({ state: 'restarting', pid: null, sidecarPid: null });
    await this.#terminate();
    this.#children = [];
    if (this.#stopping) return this.#update({ state: 'stopped', pid: null, sidecarPid: null });
    if (Date.now() - this.#spawnedAt >= this.timing.stableMs)
      this.#backoffMs = this.timing.firstBackoffMs;
    const restartInMs = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.timing.maxBackoffMs);
    const killedBecause = this.#killedBecause;
    this.#killedBecause = undefined;
    // The process that died first names the crash, unless the supervisor killed the pair.
    const sidecar = this.options.sidecar;
    const fromSidecar =
      !killedBecause && sidecar !== undefined && child.spawnargs.includes(sidecar.script);
    const replica = fromSidecar ? `${this.options.replica} daprd` : this.options.replica;
    const logFile = fromSidecar ? sidecar.logFile : this.options.logFile;
    const tail = logTail(logFile, 6, startedNote(replica));
    this.emit('exit', { replica, code, signal, restartInMs, logTail: tail, killedBecause });
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
