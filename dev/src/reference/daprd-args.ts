import { freePort } from '../stack/ports.ts';

export interface DaprdLaunch {
  appId: string;
  /** The app's port; absent = daprd without an app. */
  appPort?: number;
  httpPort: number;
  resourcesPath: string;
  configFile: string;
  logLevel?: string;
}

/** daprd's log levels; pino's fatal/trace/silent map to the nearest. */
const logLevels: Record<string, string> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  trace: 'debug',
  silent: 'fatal',
};

/**
 * Self-hosted daprd beside one app on loopback, every port free (several run on one machine):
 * API HTTP and gRPC, the sidecar-to-sidecar gRPC port the SQLite resolver publishes, metrics.
 * No placement or scheduler: nothing here uses actors, workflows or jobs. Tokens come from
 * the environment (DAPR_API_TOKEN, APP_API_TOKEN), as in the cluster; NAMESPACE too.
 */
export async function daprdArgs(launch: DaprdLaunch): Promise<string[]> {
  const [grpcPort, internalPort, metricsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
  ]);
  const args = [
    '--mode', 'standalone',
    '--app-id', launch.appId,
    '--dapr-listen-addresses', '127.0.0.1',
    '--dapr-http-port', String(launch.httpPort),
    '--dapr-grpc-port', String(grpcPort),
    '--dapr-internal-grpc-port', String(internalPort),
    '--metrics-port', String(metricsPort),
    '--resources-path', launch.resourcesPath,
    '--config', launch.configFile,
    '--log-level', logLevels[launch.logLevel ?? 'info'] ?? 'info',
    '--log-as-json',
  ]; // prettier-ignore
  if (launch.appPort !== undefined) {
    args.push('--app-port', String(launch.appPort), '--app-channel-address', '127.0.0.1');
  }
  return args;
}
