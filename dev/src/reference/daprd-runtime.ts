import { rmSync } from 'node:fs';
import path from 'node:path';
import type { DaprRuntime } from '../stack/dapr-runtime.ts';
import { componentsDir, daprConfiguration } from '../stack/dapr-runtime.ts';
import { findDaprd } from './daprd-binary.ts';
import { prepareDaprdResources } from './daprd-resources.ts';
import { startRedis, type RedisServer } from './redis.ts';

/** The launcher the supervisor runs beside each replica in place of the dev sidecar. */
export const daprdSidecarScript = path.join(import.meta.dirname, 'daprd-sidecar.ts');

export interface DaprdRuntime {
  daprd: string;
  redis: RedisServer;
  sidecarEnv(appId: string): Record<string, string | undefined>;
  stop(): Promise<void>;
}

export interface DaprdRuntimeOptions {
  dataDir: string;
  logsDir: string;
  /** An explicit daprd (`--daprd`); else SIDECART_DAPRD, else the cache. */
  daprd?: string;
  /** The dev runtime's tokens, secrets and environment, which daprd shares. */
  dev: DaprRuntime;
}

/**
 * Real daprd beside every replica: a Redis for pubsub.redis (a child process, its streams kept
 * in `.data/redis/`), our components/ with the local secrets and SQLite name resolution
 * (`.data/daprd/`), and the dev runtime's tokens.
 */
export async function startDaprdRuntime(options: DaprdRuntimeOptions): Promise<DaprdRuntime> {
  const daprd = findDaprd(options.daprd);
  if ('missing' in daprd) throw new Error(`--sidecar daprd: ${daprd.missing}`);
  const redis = await startRedis({
    dataDir: path.join(options.dataDir, 'redis'),
    logFile: path.join(options.logsDir, 'redis.log'),
  });
  const dir = path.join(options.dataDir, 'daprd');
  const nameResolutionFile = path.join(dir, 'names.db');
  // Addresses of the last run are stale: every replica registers afresh.
  for (const suffix of ['', '-wal', '-shm'])
    rmSync(`${nameResolutionFile}${suffix}`, { force: true });
  const prepared = prepareDaprdResources({
    dir,
    resourcesPaths: [componentsDir],
    configuration: daprConfiguration,
    secretsFile: path.join(options.dataDir, 'keys', 'dapr-secrets.json'),
    redisAddress: redis.address,
    nameResolutionFile,
  });
  return {
    daprd: daprd.path,
    redis,
    sidecarEnv(appId) {
      const dev = options.dev.sidecarEnv(appId);
      return {
        PATH: dev.PATH,
        HOME: dev.HOME,
        NODE_COMPILE_CACHE: dev.NODE_COMPILE_CACHE,
        APP_ID: appId,
        NAMESPACE: dev.NAMESPACE,
        LOG_LEVEL: dev.LOG_LEVEL,
        DAPR_API_TOKEN: dev.DAPR_API_TOKEN,
        APP_API_TOKEN: dev.APP_API_TOKEN,
        DAPRD_PATH: daprd.path,
        DAPRD_RESOURCES_PATH: prepared.resourcesPath,
        DAPRD_CONFIG_FILE: prepared.configFile,
      };
    },
    stop: () => redis.stop(),
  };
}
