import { createLogger } from '@sidecart/chassis/logger';
import { ResourceError } from './resource-error.ts';
import { startSidecar } from './sidecar.ts';
import { readStartupSettings } from './startup-settings.ts';

// The dev sidecar process, started beside every replica by the local runtime (like daprd in a pod).
const settings = readStartupSettings();
if ('configError' in settings) {
  console.error(settings.configError);
  process.exit(78);
}
const { config } = settings;
const log = createLogger('daprd', config.LOG_LEVEL, config.SIDECAR_INSTANCE);
if (!('resources' in settings)) {
  const error =
    'resourceProblems' in settings
      ? new ResourceError(settings.resourceProblems)
      : new Error(settings.failure);
  log.fatal({ err: error }, error.message);
  process.exit(1);
}
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await sidecar.close();
  log.info('dev sidecar stopped');
  process.exit(code);
};

const sidecar = await startSidecar({
  appId: config.APP_ID,
  namespace: config.NAMESPACE,
  instanceId: config.SIDECAR_INSTANCE,
  httpPort: config.DAPR_HTTP_PORT,
  internalPort: config.DAPR_INTERNAL_PORT,
  appPort: config.APP_PORT,
  appHost: config.APP_HOST,
  apiToken: config.DAPR_API_TOKEN,
  appApiToken: config.APP_API_TOKEN,
  internalToken: config.SIDECAR_INTERNAL_TOKEN,
  resourcesPaths: config.DAPR_RESOURCES_PATH.split(',').map((entry) => entry.trim()),
  resources: settings.resources,
  configuration: config.DAPR_CONFIG,
  secretsFile: config.DAPR_SECRETS_FILE,
  databaseUrl: config.SIDECAR_DATABASE_URL,
  log,
  onShutdown: () => void stop(0),
}).catch((error: unknown) => {
  log.fatal({ err: error }, (error as Error).message);
  process.exit(1);
});

process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));
