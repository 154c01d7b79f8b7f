import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { referenceCacheDir } from './config.ts';
import { cachedDaprd, daprdVersion } from './daprd-binary.ts';
import { buildGoModule } from './go-module-build.ts';

/**
 * The component registrations (cmd/daprd/components/*.go) a local run needs: our components/
 * (state.postgresql v1/v2, pubsub.redis), the secret store that stands in for Kubernetes
 * Secrets (secretstores.local.file), name resolution for several replicas on one machine
 * (nameresolution.sqlite; mdns is self-hosted daprd's default) and the in-memory stores.
 */
const neededComponents = [
  'state_postgres.go',
  'state_in-memory.go',
  'pubsub_redis.go',
  'pubsub_in-memory.go',
  'secretstores_local_file.go',
  'secretstores_local_env.go',
  'nameresolution_sqlite.go',
  'nameresolution_mdns.go',
];

/**
 * Versions that daprd 1.18.3's go.mod requires but some proxies do not serve, with the nearest
 * served one. durabletask-go is the workflow engine, which nothing here uses; v0.12.2-… is the
 * version daprd 1.18.2 ships.
 */
const fallbacks = {
  'github.com/dapr/durabletask-go@v0.12.4': 'v0.12.2-0.20260720132056-79042da5fe61',
};

export interface DaprdBuildOptions {
  /** The Makefile's default flavor (`allcomponents`): every component, a much longer build. */
  allComponents: boolean;
  log: (line: string) => void;
}

/** Builds daprd from github.com/dapr/dapr's own module into the cache, as its Makefile does. */
export async function buildDaprd(options: DaprdBuildOptions): Promise<string> {
  const pkg = 'github.com/dapr/dapr/pkg/buildinfo';
  await buildGoModule({
    module: 'github.com/dapr/dapr',
    version: `v${daprdVersion}`,
    pkg: './cmd/daprd',
    // The Makefile's DAPR_SIDECAR_FLAVOR: allcomponents registers every file that is kept.
    tags: ['allcomponents'],
    ldflags: `-s -w -X ${pkg}.version=${daprdVersion} -X ${pkg}.gitversion=v${daprdVersion}`,
    output: cachedDaprd,
    prepare: options.allComponents ? undefined : keepNeededComponents,
    fallbacks,
    workDir: path.join(referenceCacheDir, 'src'),
    log: options.log,
  });
  return cachedDaprd;
}

/** An allowlist: registrations of other components are removed, and their SDKs never compile. */
function keepNeededComponents(dir: string): string[] {
  const folder = path.join(dir, 'cmd', 'daprd', 'components');
  const removed = readdirSync(folder).filter(
    (file) => file.endsWith('.go') && file !== 'zz_notag.go' && !neededComponents.includes(file),
  );
  for (const file of removed) rmSync(path.join(folder, file));
  return [
    `components: ${neededComponents.map((file) => file.replace(/\.go$/, '')).join(', ')} ` +
      `(${removed.length} others left out; --all-components builds them all)`,
  ];
}
