import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { inheritedEnv } from '../src/stack/config.ts';
import { isAlive, waitUntil } from '../src/stack/processes.ts';
import { readStackFile } from '../src/stack/stack-file.ts';
import type { ReplicaExit, ReplicaStatus } from '../src/replicas/replica.ts';
import { Supervisor } from '../src/replicas/supervisor.ts';
import { fixtureApp, startFixtureStack, temporaryDir, type FixtureStack } from './harness.ts';

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

describe('supervisor, with a hung replica', () => {
  let dataDir: string;
  let supervisor: Supervisor;
  const status = (replica: string) =>
    supervisor.allStatuses().find((candidate) => candidate.replica === replica)!;
  const waitFor = async (replica: string, condition: (status: ReplicaStatus) => boolean) => {
    if (!(await waitUntil(() => condition(status(replica)), 20_000))) {
      throw new Error(`${replica} never got there: ${JSON.stringify(status(replica))}`);
    }
    return status(replica);
  };

  beforeEach(async () => {
    dataDir = temporaryDir('sidecart-hung-test-');
    // The fixture app stands in for the sidecar too: what matters is that the pair is killed.
    const env = { ...inheritedEnv(), HOST: '127.0.0.1' };
    supervisor = new Supervisor(
      [{ name: 'echo', script: fixtureApp, env, sidecar: { script: fixtureApp, env } }],
      {
        replicas: 2,
        cwd: dataDir,
        logsDir: path.join(dataDir, 'logs'),
        timing: { pollMs: 50, firstBackoffMs: 100, stopGraceMs: 5000, unhealthyLimitMs: 1500 },
      },
    );
    await supervisor.start();
    for (const replica of ['echo-0', 'echo-1'])
      await waitFor(replica, (s) => s.state === 'healthy');
  });

  afterEach(async () => {
    for (const { pid, sidecarPid } of supervisor.allStatuses()) {
      for (const stopped of [pid, sidecarPid])
        if (stopped && isAlive(stopped)) process.kill(stopped, 'SIGCONT');
    }
    await supervisor.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('kills a SIGSTOPped app with its sidecar past the unhealthy limit and restarts the pair; a merely unready one lives on', async () => {
    const exits: ReplicaExit[] = [];
    supervisor.on('exit', (exit) => exits.push(exit));
    const unready = status('echo-1');
    await fetch(`http://127.0.0.1:${unready.appPort}/api/echo/unready`);
    await waitFor('echo-1', (s) => s.state === 'unhealthy');
    const hung = status('echo-0');

    process.kill(hung.pid!, 'SIGSTOP');
    const restarted = await waitFor(
      'echo-0',
      (s) => s.state === 'healthy' && s.pid !== hung.pid && s.restarts === 1,
    );

    expect(isAlive(hung.pid!)).toBe(false);
    expect(isAlive(hung.sidecarPid!)).toBe(false);
    expect(restarted.sidecarPid).not.toBe(hung.sidecarPid);
    expect(restarted.appPort).toBe(hung.appPort);
    expect(exits).toEqual([
      expect.objectContaining({
        replica: 'echo-0',
        signal: 'SIGKILL',
        killedBecause: expect.stringMatching(/^unhealthy for \d+\.\d s$/),
      }),
    ]);
    // Unready longer than echo-0 was hung, but its /healthz answers: out of traffic, not killed.
    expect(status('echo-1')).toMatchObject({ pid: unready.pid, state: 'unhealthy', restarts: 0 });
  });
});
