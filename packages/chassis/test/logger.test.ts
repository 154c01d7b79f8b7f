import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';

const loggerModule = path.join(import.meta.dirname, '..', 'src', 'logger.ts');

/** Runs a script with a real logger (pino writes to fd 1 itself) and returns its JSON lines. */
function logLinesOf(body: string): Record<string, unknown>[] {
  const script = `import { createLogger } from ${JSON.stringify(loggerModule)};
const log = createLogger('test', 'info');
${body}`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: path.join(import.meta.dirname, '..'),
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('createLogger', () => {
  test('logs a unique violation from MikroORM without the values PostgreSQL quoted in its detail', () => {
    const [line] = logLinesOf(`
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
const driverError = Object.assign(new Error('duplicate key value violates unique constraint "refresh_tokens_token_hash_unique"'), {
  code: '23505',
  detail: 'Key (token_hash)=(b64-secret-token-hash) already exists.',
});
const error = new PostgreSqlPlatform().getExceptionConverter().convertException(driverError);
log.error({ err: new Error('request failed', { cause: error }) }, 'request failed');
log.error(error, 'bare');
`);

    const text = JSON.stringify(line);
    expect(text).not.toContain('b64-secret-token-hash');
    expect(text).toContain('refresh_tokens_token_hash_unique');
  });

  test('redacts credentials in headers and bodies', () => {
    const [line] = logLinesOf(`
log.info({
  req: { headers: { authorization: 'Bearer secret-jwt', 'dapr-api-token': 'secret-dapr' } },
  call: { headers: { authorization: 'Bearer secret-jwt-2' } },
  body: { password: 'secret-password', passwordHash: '$argon2id$secret', refreshToken: 'secret-refresh' },
}, 'request');
`);

    expect(JSON.stringify(line)).not.toMatch(/secret/);
    expect(line).toMatchObject({ req: { headers: { authorization: '[redacted]' } } });
  });
});
