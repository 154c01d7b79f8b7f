import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { daprdFromEnv, referenceCacheDir } from './config.ts';

/** The daprd line docs/dapr-behaviour.md describes and the cluster pins (Helm chart 1.18.3). */
export const daprdVersion = '1.18.3';

/** Where `npm run reference:build` puts daprd. */
export const cachedDaprd = path.join(referenceCacheDir, `daprd-${daprdVersion}`, 'daprd');

export type DaprdLookup = { path: string } | { missing: string };

/** The daprd to run: an explicit path, then SIDECART_DAPRD, then the cache; or why there is none. */
export function findDaprd(explicit?: string): DaprdLookup {
  const chosen = explicit ?? daprdFromEnv();
  if (chosen) {
    return isExecutable(chosen)
      ? { path: path.resolve(chosen) }
      : { missing: `${chosen} (from --daprd / SIDECART_DAPRD) is not an executable file` };
  }
  if (isExecutable(cachedDaprd)) return { path: cachedDaprd };
  return {
    missing: `no daprd in ${cachedDaprd}: run \`npm run reference:build\` (or set SIDECART_DAPRD)`,
  };
}

/** Whether a cached (or given) binary is there to run. */
export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
