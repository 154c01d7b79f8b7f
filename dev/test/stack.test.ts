import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { compileCacheDir, inheritedEnv, repoRoot } from '../src/stack/config.ts';
import { residentBytes } from '../src/stack/memory.ts';
import { freePort } from '../src/stack/ports.ts';
import { isAlive, waitUntil } from '../src/stack/processes.ts';
import { readStackFile } from '../src/stack/stack-file.ts';
import { supervisorCompileCache, supervisorNodeFlags } from '../src/stack/supervisor-node.ts';
import { temporaryDir } from './harness.ts';
import {
  fixtureServicesDir,
  replicaPids,
  spawnStack as spawnAnyStack,
  type StackProcess,
} from './run-stack.ts';

// The whole runtime (embedded PostgreSQL included) with the fixture app standing in for auth.
describe('npm start', () => {
  let dataDir: string;
  let servicesDir: string;
  const reset = () =>
    spawnSync(process.execPath, [path.join(repoRoot, 'dev/src/reset.ts'), '--data-dir', dataDir], {
      env: inheritedEnv(),
      encoding: 'utf8',
    });

  // Every stack a test starts, so that one failing halfway does not leave its supervisor running
  // into the next test (which would then find "a stack is already running").
  const started: StackProcess[] = [];
  const spawnStack = async (...args: Parameters<typeof spawnAnyStack>) => {
    const running = await spawnAnyStack(...args);
    started.push(running);
    return running;
  };

  beforeAll(() => {
    dataDir = path.join(temporaryDir('sidecart-stack-test-'), 'data');
    servicesDir = fixtureServicesDir();
  });
  afterEach(async () => {
    for (const running of started.splice(0)) {
      if (running.child.exitCode !== null || running.child.signalCode !== null) continue;
      running.child.kill('SIGKILL');
      await running.exited;
    }
  });
  afterAll(() => {
    reset();
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
    rmSync(servicesDir, { recursive: true, force: true });
  });

  test('starts, refuses a second stack on the same data, and stops on SIGINT leaving nothing alive', async () => {
    const running = await spawnStack(dataDir, servicesDir, ['--replicas', '2']);
    const stack = await running.ready();

    const echoed = (await (await fetch(`${stack.ingress.url}/api/auth/echo`)).json()) as {
      env: Record<string, string>;
    };
    expect(echoed.env).toMatchObject({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      DATABASE_URL: expect.stringMatching(new RegExp(`:${stack.postgres!.port}/auth$`)),
      ADMIN_EMAIL: 'admin@sidecart.local',
    });
    expect(statSync(echoed.env.AUTH_PRIVATE_KEY_FILE!).mode & 0o777).toBe(0o600);
    // A replica that exited right after the start says why in the supervisor's output.
    const states = stack.services.auth!.replicas.map((r) => r.state);
    const healthy = states.every((state) => state === 'healthy');
    expect({ states, output: healthy ? '' : running.output() }).toEqual({
      states: ['healthy', 'healthy'],
      output: '',
    });
    // start.ts re-executed itself (same pid) as a lean supervisor: a small young generation and,
    // in its environment, the replicas' compile cache.
    expect(stack.pid).toBe(running.child.pid);
    expect(supervisorCompileCache).toBe(compileCacheDir);
    if (existsSync(`/proc/${stack.pid}/cmdline`)) {
      const cmdline = readFileSync(`/proc/${stack.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline.slice(1, 1 + supervisorNodeFlags.length)).toEqual(supervisorNodeFlags);
      expect(cmdline).toContain(path.join(repoRoot, 'dev/src/start.ts'));
    }

    const second = await spawnStack(dataDir, servicesDir);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`a stack is already running from ${dataDir}`);
    expect(reset().status).toBe(1);

    const pids = [...replicaPids(stack), stack.postgres!.pid];
    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(path.join(dataDir, 'stack.json'))).toBe(false);
  });

  test('keeps data and the signing key between runs', async () => {
    const keyFile = path.join(dataDir, 'keys', 'auth-signing-key.pem');
    const first = await spawnStack(dataDir, servicesDir, ['--replicas', '1']);
    await first.ready();
    const key = readFileSync(keyFile, 'utf8');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await spawnStack(dataDir, servicesDir, ['--replicas', '1']);
    const stack = await second.ready();

    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect(second.output()).not.toContain('new cluster');
    expect(stack.services.auth!.replicas).toHaveLength(1);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  test('after a SIGKILLed supervisor the replicas drain themselves, then PostgreSQL stops and stack.json goes', async () => {
    const running = await spawnStack(dataDir, servicesDir, ['--replicas', '2']);
    const stack = await running.ready();

    // The watchdog is a shell loop until it is needed, not a Node process idling beside PostgreSQL.
    const watchdogBytes = residentBytes(stack.postgres!.watchdogPid);
    if (watchdogBytes !== undefined) expect(watchdogBytes).toBeLessThan(16 * 1024 * 1024);

    running.child.kill('SIGKILL');
    await running.exited;

    const leftovers = [...replicaPids(stack), stack.postgres!.pid, stack.postgres!.watchdogPid];
    expect(await waitUntil(() => leftovers.every((pid) => !isAlive(pid)), 30_000)).toBe(true);
    expect(existsSync(path.join(dataDir, 'stack.json'))).toBe(false);
  }, 60_000);

  test('when PostgreSQL outlives everything, the next start stops it first and gets the preferred port back; reset stops it too', async () => {
    const pgPort = String(await freePort());
    const orphanStack = async () => {
      const running = await spawnStack(dataDir, servicesDir, [
        '--replicas',
        '1',
        '--pg-port',
        pgPort,
      ]);
      const stack = await running.ready();
      // A SIGKILL to everything of the stack but the postmaster (its watchdog included).
      if (stack.postgres!.watchdogPid) process.kill(stack.postgres!.watchdogPid, 'SIGKILL');
      running.child.kill('SIGKILL');
      await running.exited;
      expect(await waitUntil(() => replicaPids(stack).every((pid) => !isAlive(pid)), 10_000)).toBe(
        true,
      );
      expect(isAlive(stack.postgres!.pid)).toBe(true);
      expect(readStackFile(dataDir)).toMatchObject({ pid: running.child.pid, state: 'running' });
      return stack;
    };
    const orphaned = await orphanStack();
    expect(orphaned.postgres!.port).toBe(Number(pgPort));

    const next = await spawnStack(dataDir, servicesDir, ['--replicas', '1', '--pg-port', pgPort]);
    const stack = await next.ready();

    expect(isAlive(orphaned.postgres!.pid)).toBe(false);
    expect(stack.postgres!.port).toBe(Number(pgPort));
    expect(next.output()).toContain(`the stack of pid ${orphaned.pid} did not stop cleanly`);
    expect(next.output()).toContain(`stopping PostgreSQL (pid ${orphaned.postgres!.pid})`);
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);

    const again = await orphanStack();
    const result = reset();
    expect([result.status, result.stderr]).toEqual([0, '']);
    expect(isAlive(again.postgres!.pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);
});
