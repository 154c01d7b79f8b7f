import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { repoRoot } from '../src/stack/config.ts';
import { DEV_PG_PASSWORD, DEV_PG_USER } from '../src/postgres/cluster.ts';
import type { StackFile } from '../src/stack/stack-file.ts';
import { temporaryDir } from './harness.ts';
import { spawnStack, type StackProcess } from './run-stack.ts';

// The real auth service behind the whole runtime, at debug level (the chattiest a developer
// runs), under the traffic that leaked: concurrent registrations of one email.
describe('npm start keeps credentials out of its logs and its data folder private', () => {
  let dataDir: string;
  let running: StackProcess;
  let stack: StackFile;

  beforeAll(async () => {
    dataDir = path.join(temporaryDir('sidecart-private-test-'), 'data');
    running = await spawnStack(dataDir, path.join(repoRoot, 'services'), ['--replicas', '2'], {
      LOG_LEVEL: 'debug',
      // The finding's traffic: 50 registrations of one email, beyond auth's default rate limits.
      RATE_LIMIT_REGISTER_ADDRESS: '1000/3600',
      RATE_LIMIT_REGISTER_ACCOUNT: '1000/3600',
    });
    stack = await running.ready();
  }, 90_000);

  afterAll(async () => {
    if (running.child.exitCode === null) {
      running.child.kill('SIGINT');
      await running.exited;
    }
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  }, 60_000);

  test('50 concurrent same-email registrations, a login, a refresh and /me leave no email, password, hash or token in any log', async () => {
    const api = `${stack.ingress.url}/api/auth`;
    const email = `leak-${Date.now()}@example.com`;
    const password = 'sidecart-secret-passphrase-7c1e';
    const post = (route: string, body: unknown) =>
      fetch(`${api}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const statuses = await Promise.all(
      Array.from(
        { length: 50 },
        async () => (await post('/register', { email, password, name: 'Leak' })).status,
      ),
    );
    const login = (await (await post('/login', { email, password })).json()) as Record<
      string,
      string
    >;
    const refreshed = (await (
      await post('/refresh', { refreshToken: login.refreshToken })
    ).json()) as Record<string, string>;
    const me = await fetch(`${api}/me`, {
      headers: { authorization: `Bearer ${refreshed.accessToken}` },
    });
    const wrongPassword = await post('/login', { email, password: `${password}-wrong` });
    const passwordHash = await storedPasswordHash(stack, email);
    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);

    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(49);
    expect([me.status, wrongPassword.status]).toEqual([200, 401]);
    const secrets = [
      email,
      password,
      passwordHash,
      login.accessToken!,
      login.refreshToken!,
      refreshed.accessToken!,
      refreshed.refreshToken!,
      '$argon2',
    ];
    const leaks = logLines(dataDir).filter(({ line }) =>
      secrets.some((secret) => line.includes(secret)),
    );
    expect({ perFile: leakingLinesPerFile(leaks), first: leaks.slice(0, 2) }).toEqual({
      perFile: {},
      first: [],
    });
  }, 120_000);

  test('every file the runtime wrote in the data folder is private to its user', () => {
    // As root the postgres user must walk through the data folder to its own (see private-data.ts).
    const folderMode = process.getuid?.() === 0 ? 0o711 : 0o700;
    const mode = (file: string) => statSync(path.join(dataDir, file)).mode & 0o777;

    const files = ['logs', 'keys'].flatMap((folder) =>
      readdirSync(path.join(dataDir, folder)).map((name) => path.join(folder, name)),
    );

    expect(files).toEqual(
      expect.arrayContaining(['logs/postgres.log', 'logs/auth-0.log', 'keys/auth-signing-key.pem']),
    );
    expect(mode('.')).toBe(folderMode);
    expect([mode('logs'), mode('keys')]).toEqual([0o700, 0o700]);
    expect(files.filter((file) => mode(file) !== 0o600)).toEqual([]);
  });
});

async function storedPasswordHash(stack: StackFile, email: string): Promise<string> {
  const client = new pg.Client({
    connectionString: `postgres://${DEV_PG_USER}:${DEV_PG_PASSWORD}@127.0.0.1:${stack.postgres!.port}/auth`,
  });
  await client.connect();
  try {
    const found = await client.query<{ password_hash: string }>(
      'select password_hash from users where email = $1',
      [email],
    );
    return found.rows[0]!.password_hash;
  } finally {
    await client.end();
  }
}

function logLines(dataDir: string): { file: string; line: string }[] {
  const logsDir = path.join(dataDir, 'logs');
  return readdirSync(logsDir).flatMap((file) =>
    readFileSync(path.join(logsDir, file), 'utf8')
      .split('\n')
      .map((line) => ({ file, line })),
  );
}

function leakingLinesPerFile(leaks: { file: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { file } of leaks) counts[file] = (counts[file] ?? 0) + 1;
  return counts;
}
