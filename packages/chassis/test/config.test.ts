import { describe, expect, test } from '@jest/globals';
import { z } from 'zod';
import { baseConfigSchema, ConfigError, loadConfig } from '../src/config.ts';

const databaseUrl = 'postgres://app:secret@localhost:5432/app';

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('fills every default when only DATABASE_URL is set', () => {
    const config = loadConfig(baseConfigSchema, { DATABASE_URL: databaseUrl });

    expect(config).toEqual({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      PORT: 3000,
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      SHUTDOWN_GRACE_MS: 10_000,
      BODY_LIMIT_BYTES: 65_536,
    });
  });

  test('coerces numeric strings to numbers', () => {
    const config = loadConfig(baseConfigSchema, {
      DATABASE_URL: 'postgresql://localhost/app',
      PORT: '8080',
      SHUTDOWN_GRACE_MS: '2500',
      BODY_LIMIT_BYTES: '1024',
    });

    expect(config).toMatchObject({ PORT: 8080, SHUTDOWN_GRACE_MS: 2500, BODY_LIMIT_BYTES: 1024 });
  });

  test('treats an empty variable as unset, so PORT= means the default and not port 0', () => {
    const config = loadConfig(baseConfigSchema, {
      DATABASE_URL: databaseUrl,
      PORT: '',
      SHUTDOWN_GRACE_MS: '',
    });

    expect(config).toMatchObject({ PORT: 3000, SHUTDOWN_GRACE_MS: 10_000 });
  });

  test('ignores variables the schema does not name', () => {
    const config = loadConfig(baseConfigSchema, { DATABASE_URL: databaseUrl, HOME: '/root' });

    expect(config).not.toHaveProperty('HOME');
  });

  test('with a bad environment, lists every problem at once, each naming its variable', () => {
    const schema = baseConfigSchema.extend({ AUTH_ISSUER: z.string().min(1) });

    const error = configErrorOf(() =>
      loadConfig(schema, {
        DATABASE_URL: 'mysql://localhost/app',
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        BODY_LIMIT_BYTES: '0',
      }),
    );

    const variables = error.problems.map((problem) => problem.split(':')[0]).sort();
    expect(variables).toEqual([
      'AUTH_ISSUER',
      'BODY_LIMIT_BYTES',
      'DATABASE_URL',
      'LOG_LEVEL',
      'PORT',
    ]);
    for (const problem of error.problems) expect(problem).toMatch(/^[A-Z_]+: \S.{5,}/);
  });

  test('the error message is a readable list of the problems', () => {
    const error = configErrorOf(() => loadConfig(baseConfigSchema, { PORT: '70000' }));

    expect(error.name).toBe('ConfigError');
    expect(error.message.split('\n')).toEqual([
      'Invalid configuration:',
      ...error.problems.map((problem) => `  - ${problem}`),
    ]);
    expect(error.message).toMatch(/^ {2}- DATABASE_URL: /m);
    expect(error.message).toMatch(/^ {2}- PORT: /m);
  });

  test('a missing DATABASE_URL is a problem, not a crash later', () => {
    const error = configErrorOf(() => loadConfig(baseConfigSchema, {}));

    expect(error.problems).toEqual([expect.stringMatching(/^DATABASE_URL: /)]);
  });
});
