import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { inheritedEnv, repoRoot } from '../src/stack/config.ts';
import { isAlive, waitUntil } from '../src/stack/processes.ts';
import { readStackFile } from '../src/stack/stack-file.ts';
import { temporaryDir } from './harness.ts';
import { fixtureServicesDir, spawnStack } from './run-stack.ts';

// `npm start` with the fixture app as auth: the ingress is a process of its own.
describe('npm start: the ingress process', () => {
  let dataDir: string;
  let servicesDir: string;

  beforeAll(() => {
    dataDir = path.join(temporaryDir('sidecart-ingress-stack-test-'), 'data');
    servicesDir = fixtureServicesDir();
  });
  afterAll(() => {
    spawnSync(process.execPath, [path.join(repoRoot, 'dev/src/reset.ts'), '--data-dir', dataDir], {
      env: inheritedEnv(),
    });
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
    rmSync(servicesDir, { recursive: true, force: true });
  });

  test('is recorded in stack.json, restarted with a new pid when it dies, and gone after Ctrl-C', async () => {
    const running = await spawnStack(dataDir, servicesDir, ['--replicas', '2']);
    const stack = await running.ready();
    const echo = async () => {
      const response = await fetch(`${stack.ingress.url}/api/auth/echo`).catch(() => undefined);
      return response?.status;
    };
    const first = stack.ingress.pid;

    expect(first).not.toBe(stack.pid);
    expect(isAlive(first)).toBe(true);
    expect(await echo()).toBe(200);

    process.kill(first, 'SIGKILL');
    const restarted = await waitUntil(async () => {
      const pid = readStackFile(dataDir)?.ingress.pid;
      return pid !== undefined && pid !== first && isAlive(pid) && (await echo()) === 200;
    }, 15_000);
    const second = readStackFile(dataDir)!.ingress.pid;

    expect(restarted).toBe(true);
    expect(readStackFile(dataDir)!.ingress.port).toBe(stack.ingress.port);

    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
    expect(isAlive(second)).toBe(false);
  });

  test('exits by itself when the supervisor is SIGKILLed', async () => {
    const running = await spawnStack(dataDir, servicesDir, ['--replicas', '1']);
    const stack = await running.ready();

    running.child.kill('SIGKILL');
    await running.exited;

    expect(await waitUntil(() => !isAlive(stack.ingress.pid), 15_000)).toBe(true);
  });
});
