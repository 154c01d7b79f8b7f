import { loadSidecarConfig, sidecarEnvironment, type SidecarProcessConfig } from './config.ts';
import { ResourceError } from './resource-error.ts';
import { loadResources } from './resources.ts';
import type { StartupSettings } from './startup-settings.ts';

// The dev sidecar's settings reader, run by startup-settings.ts in a child process so that zod and
// yaml never load into the long-lived sidecar. Prints one JSON document on stdout.
function readSettings(): StartupSettings {
  let config: SidecarProcessConfig;
  try {
    config = loadSidecarConfig();
  } catch (error) {
    return { configError: (error as Error).message };
  }
  try {
    const resources = loadResources(
      config.DAPR_RESOURCES_PATH.split(',').map((entry) => entry.trim()),
      {
        appId: config.APP_ID,
        namespace: config.NAMESPACE,
        secretsFile: config.DAPR_SECRETS_FILE,
        env: sidecarEnvironment(),
        configuration: config.DAPR_CONFIG,
      },
    );
    return { config, resources };
  } catch (error) {
    if (error instanceof ResourceError) return { config, resourceProblems: error.problems };
    return { config, failure: (error as Error).message };
  }
}

process.stdout.write(JSON.stringify(readSettings()));
