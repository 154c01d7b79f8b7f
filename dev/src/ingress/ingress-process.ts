import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { IngressLimits, Route } from './ingress.ts';
import { inheritedEnv } from '../stack/config.ts';
import type { Target } from '../replicas/supervisor.ts';

/** What the supervisor tells the ingress process, over the IPC channel of `fork`. */
export type ToIngress =
  | { type: 'targets'; service: string; targets: Target[] }
  | { type: 'close' }
  | { type: 'close-all' };

/** What the ingress process tells the supervisor. */
export type FromIngress =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'unreachable'; replica: string }
  | { type: 'closed' };

/** The settings of the ingress process, passed as its one argument (JSON). */
export interface IngressSettings {
  port: number;
  routes: Route[];
  limits?: Partial<IngressLimits>;
}

export interface IngressProcessOptions extends IngressSettings {
  /** A replica refused a connection or did not answer: the supervisor may stop routing to it. */
  onUnreachable?: (replica: string) => void;
  /** The process died and was started again (with a new pid, on the same port). */
  onRestart?: (ingress: IngressProcess) => void;
  /** An unexpected exit, with the code or signal, before the restart. */
  onExit?: (reason: string) => void;
}

export interface IngressProcess {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** The healthy replicas of a service; kept here too, so that a restarted ingress gets them. */
  setTargets(service: string, targets: Target[]): void;
  /** Stops accepting connections; resolves once the open ones are done (or cut). */
  close(): Promise<void>;
  /** Cuts whatever is still open. */
  closeAllConnections(): void;
}

const mainScript = path.join(import.meta.dirname, 'main.ts');
const firstBackoffMs = 250;
const maxBackoffMs = 5000;

/**
 * Runs the ingress in its own process, as Traefik is its own pod: load on it cannot starve the
 * supervisor, and its memory is its own. It is restarted on the same port if it dies.
 */
export async function startIngressProcess(options: IngressProcessOptions): Promise<IngressProcess> {
  const targets = new Map<string, Target[]>();
  const settings: IngressSettings = {
    port: options.port,
    routes: options.routes,
    limits: options.limits,
  };
  let child = await spawnIngress(settings);
  const port = child.port;
  let closing = false;
  let backoffMs = firstBackoffMs;

  // The callback takes an EPIPE (the process just died; the restart resends what matters).
  const send = (message: ToIngress) => {
    if (child.process.connected) child.process.send(message, () => {});
  };
  const watch = (running: RunningChild) => {
    running.process.on('message', (message: FromIngress) => {
      if (message.type === 'unreachable') options.onUnreachable?.(message.replica);
    });
    running.process.once('exit', (code, signal) => {
      if (closing) return;
      options.onExit?.(signal ?? `code ${code}`);
      setTimeout(() => void restart(), backoffMs);
      backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
    });
  };
  const restart = async () => {
    if (closing) return;
    try {
      child = await spawnIngress({ ...settings, port });
    } catch (error) {
      options.onExit?.((error as Error).message);
      setTimeout(() => void restart(), backoffMs);
      return;
    }
    backoffMs = firstBackoffMs;
    for (const [service, list] of targets) send({ type: 'targets', service, targets: list });
    watch(child);
    options.onRestart?.(ingress);
  };
  watch(child);

  const ingress: IngressProcess = {
    port,
    url: `http://127.0.0.1:${port}`,
    get pid() {
      return child.process.pid!;
    },
    setTargets(service, list) {
      targets.set(service, list);
      send({ type: 'targets', service, targets: list });
    },
    close() {
      closing = true;
      const { process: current } = child;
      if (current.exitCode !== null || current.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        current.once('exit', () => resolve());
        if (current.connected) current.send({ type: 'close' } satisfies ToIngress, () => {});
        else current.kill('SIGKILL');
      });
    },
    closeAllConnections() {
      send({ type: 'close-all' });
    },
  };
  return ingress;
}

interface RunningChild {
  process: ChildProcess;
  port: number;
}

function spawnIngress(settings: IngressSettings): Promise<RunningChild> {
  // Detached: a Ctrl-C in the terminal reaches the supervisor only, which closes the ingress
  // first; without an IPC channel (the supervisor died) the ingress exits by itself.
  const child = fork(mainScript, [JSON.stringify(settings)], {
    detached: true,
    execArgv: [],
    env: inheritedEnv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromIngress) => {
      if (message.type === 'listening') {
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve({ process: child, port: message.port });
      } else if (message.type === 'failed') {
        reject(new Error(message.message));
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`the ingress exited during start-up (code ${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
