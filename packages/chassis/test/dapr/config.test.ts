import { describe, expect, test } from '@jest/globals';
import { baseConfigSchema, ConfigError, daprConfigSchema, loadConfig } from '../../src/config.ts';

const schema = baseConfigSchema.extend(daprConfigSchema.shape);
const databaseUrl = 'postgres://app:secret@localhost:5432/app';

describe('daprConfigSchema', () => {
  test('defaults to the sidecar on 127.0.0.1:3500, no tokens, 5 s calls, pubsub "pubsub"', () => {
    const config = loadConfig(schema, { DATABASE_URL: databaseUrl });

    expect(config).toMatchObject({
      DAPR_HOST: '127.0.0.1',
      DAPR_HTTP_PORT: 3500,
      DAPR_TIMEOUT_MS: 5_000,
      PUBSUB_NAME: 'pubsub',
    });
    expect(config.DAPR_API_TOKEN).toBeUndefined();
    expect(config.APP_API_TOKEN).toBeUndefined();
  });

  test('reads every setting from the environment', () => {
    const config = loadConfig(schema, {
      DATABASE_URL: databaseUrl,
      DAPR_HOST: 'localhost',
      DAPR_HTTP_PORT: '3510',
      DAPR_API_TOKEN: 'to-sidecar',
      APP_API_TOKEN: 'from-sidecar',
      DAPR_TIMEOUT_MS: '800',
      PUBSUB_NAME: 'events',
    });

    expect(config).toMatchObject({
      DAPR_HOST: 'localhost',
      DAPR_HTTP_PORT: 3510,
      DAPR_API_TOKEN: 'to-sidecar',
      APP_API_TOKEN: 'from-sidecar',
      DAPR_TIMEOUT_MS: 800,
      PUBSUB_NAME: 'events',
    });
  });

  test('rejects a port that is not one', () => {
    const load = () => loadConfig(schema, { DATABASE_URL: databaseUrl, DAPR_HTTP_PORT: '35OO' });

    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/DAPR_HTTP_PORT/);
  });
});
