import { spawn, type ChildProcess } from 'node:child_process';

/**
 * The processes a benchmark starts (apps, sidecars), each a Node script with its own
 * environment, their output dropped but for errors; `stopAll` ends them together.
 */
export function benchChildren() {
  const children: ChildProcess[] = [];
  return {
    start(script: string, env: Record<string, string | undefined>): ChildProcess {
      const child = spawn(process.execPath, [script], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    },
    async stopAll(): Promise<void> {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children.map(exited));
    },
  };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
