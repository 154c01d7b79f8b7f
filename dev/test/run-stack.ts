import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inheritedEnv, repoRoot } from '../src/stack/config.ts';
import { freePort } from '../src/stack/ports.ts';
import { waitUntil } from '../src/stack/processes.ts';
import { readStackFile, type StackFile } from '../src/stack/stack-file.ts';
import { fixtureApp, temporaryDir } from './harness.ts';

/** A services folder whose `auth` is the fixture app (the runtime never imports services). */
export function fixtureServicesDir(): string {
  const dir = temporaryDir('sidecart-services-');
  mkdirSync(path.join(dir, 'auth', 'src'), { recursive: true });
  writeFileSync(
    path.join(dir, 'auth', 'src', 'main.ts'),
    `import ${JSON.stringify(fixtureApp)};\n`,
  );
  const migrate = path.join(import.meta.dirname, 'fixtures', 'migrate.ts');
  writeFileSync(
    path.join(dir, 'auth', 'src', 'migrate.ts'),
    `import ${JSON.stringify(migrate)};\n`,
  );
  return dir;
}

export interface StackProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  /** Resolves with stack.json once it says ready; throws (with the output) otherwise. */
  ready(): Promise<StackFile>;
}

/** `node dev/src/start.ts` on free ports, as a child process (`env` adds to the environment). */
export async function spawnStack(
  dataDir: string,
  servicesDir: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<StackProcess> {
  const ports = ['--port', String(await freePort()), '--pg-port', String(await freePort())];
  // auth only (the fixture stands in for it); `args` may name others: the last flag wins.
  const services = ['--services', 'auth'];
  const child = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'dev/src/start.ts'),
      '--data-dir',
      dataDir,
      ...ports,
      ...services,
      ...args,
    ],
    {
      env: { ...inheritedEnv(), SIDECART_SERVICES_DIR: servicesDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    child,
    exited,
    output: () => output,
    async ready() {
      const isReady = () =>
        child.exitCode === null &&
        readStackFile(dataDir)?.pid === child.pid &&
        readStackFile(dataDir)?.ready;
      await waitUntil(() => child.exitCode !== null || isReady() === true, 30_000);
      if (!isReady()) throw new Error(`stack not ready (exit code ${child.exitCode}):\n${output}`);
      return readStackFile(dataDir)!;
    },
  };
}

export function replicaPids(stack: StackFile): number[] {
  return Object.values(stack.services).flatMap((service) =>
    service.replicas.map((replica) => replica.pid!),
  );
}
