import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { isAlive, waitUntil } from '../src/stack/processes.ts';
import { readStackFile } from '../src/stack/stack-file.ts';
import { startFixtureStack, type FixtureStack } from './harness.ts';

describe('supervisor', () => {
  let stack: FixtureStack;

  beforeEach(async () => {
    stack = await startFixtureStack(2);
  });

  afterEach(async () => {
    await stack.stop();
  });

  test('restarts a killed replica on the same port, counts the restart and records it in stack.json', async () => {
    const before = stack.status('echo-0');

    process.kill(before.pid!, 'SIGKILL');
    const after = await stack.waitFor(
      'echo-0',
      (s) => s.state === 'healthy' && s.pid !== before.pid,
    );

    expect(after.restarts).toBe(1);
    expect(after.appPort).toBe(before.appPort);
    expect(isAlive(before.pid!)).toBe(false);
    const recorded = readStackFile(stack.dataDir)!.services.echo!.replicas;
    expect(recorded.find((r) => r.replica === 'echo-0')).toMatchObject({
      pid: after.pid,
      restarts: 1,
      state: 'healthy',
    });
    expect(stack.status('echo-1')).toMatchObject({ pid: stack.status('echo-1').pid, restarts: 0 });
  });

  test('restarts a replica that exits on its own, with a doubling back-off', async () => {
    const delays: number[] = [];
    stack.supervisor.on(
      'exit',
      (exit) => exit.replica === 'echo-1' && delays.push(exit.restartInMs),
    );

    for (const round of [1, 2]) {
      const { appPort } = await stack.waitFor(
        'echo-1',
        (s) => s.state === 'healthy' && s.restarts === round - 1,
      );
      await fetch(`http://127.0.0.1:${appPort}/api/echo/exit`);
      await stack.waitFor('echo-1', (s) => s.state === 'healthy' && s.restarts === round);
    }

    expect(delays).toEqual([100, 200]);
    expect(stack.status('echo-0').restarts).toBe(0);
  });

  test('stop drains every replica and leaves no live pid', async () => {
    const pids = stack.supervisor.allStatuses().map((s) => s.pid!);
    expect(pids.every(isAlive)).toBe(true);

    await stack.supervisor.stop();

    expect(pids.filter(isAlive)).toEqual([]);
    expect(stack.supervisor.allStatuses().map((s) => s.state)).toEqual(['stopped', 'stopped']);
    expect(await waitUntil(() => stack.status('echo-0').pid === null, 1000)).toBe(true);
  });
});
