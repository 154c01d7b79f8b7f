import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../stack/ports.ts';
import { waitUntil } from '../stack/processes.ts';

export interface RedisServer {
  address: string;
  port: number;
  /** The guard's pid (redis-server is its child and goes with it). */
  pid: number;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** Keep the streams here across runs (append-only file); absent = in memory only. */
  dataDir?: string;
  logFile?: string;
}

/** Why there is no Redis to start, or undefined when `redis-server` is on PATH. */
export function redisMissing(): string | undefined {
  const found = spawnSync('redis-server', ['--version']);
  return found.error
    ? 'redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)'
    : undefined;
}

// Runs redis-server as a child of a shell that watches the pid that started it: if that pid dies
// without stopping it (SIGKILL, a crashed test worker), Redis goes too, so no daemon is left.
const guard = `parent=$1; shift
redis-server "$@" &
server=$!
trap 'kill $server 2>/dev/null; wait $server; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1 & wait $!; done
kill $server 2>/dev/null; wait $server`;

/** redis-server on a free loopback port, as a child process (no daemon, no config file). */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const missing = redisMissing();
  if (missing) throw new Error(missing);
  const port = await freePort();
  const persistence = options.dataDir
    ? ['--dir', options.dataDir, '--appendonly', 'yes']
    : ['--appendonly', 'no'];
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence];
  const log = options.logFile ? openSync(options.logFile, 'a', 0o600) : 'ignore';
  const child = spawn('sh', ['-c', guard, 'sh', String(process.pid), ...args], {
    // Its own process group: a Ctrl-C in the terminal must not stop it before the sidecars drain.
    detached: true,
    stdio: ['ignore', log, log],
  });
  if (typeof log === 'number') closeSync(log);
  child.unref();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ready = await waitUntil(() => child.exitCode === null && answersPing(port), 10_000);
  const server: RedisServer = {
    address: `127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    exited,
    async stop() {
      // Unreferenced so that it never holds its starter open; waiting for its exit must.
      child.ref();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  if (!ready) {
    await server.stop();
    throw new Error(`redis-server did not answer on port ${port} within 10 s`);
  }
  return server;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
