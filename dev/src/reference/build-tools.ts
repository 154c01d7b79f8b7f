import path from 'node:path';
import { referenceCacheDir } from './config.ts';
import { buildGoModule } from './go-module-build.ts';

/** Cluster tools built the same way as daprd; the versions docs/ and deploy research name. */
export const tools = {
  tilt: { module: 'github.com/tilt-dev/tilt', version: '0.37.6', pkg: './cmd/tilt' },
  helm: { module: 'helm.sh/helm/v3', version: '3.22.0', pkg: './cmd/helm' },
} as const;

export type ToolName = keyof typeof tools;

export const cachedTool = (name: ToolName): string =>
  path.join(referenceCacheDir, `${name}-${tools[name].version}`, name);

const versionFlags: Record<ToolName, (version: string) => string> = {
  tilt: (version) => `-X main.version=${version}`,
  helm: (version) => `-X helm.sh/helm/v3/internal/version.version=v${version}`,
};

/** Builds tilt or helm from its module into the cache. */
export async function buildTool(name: ToolName, log: (line: string) => void): Promise<string> {
  const { module, version, pkg } = tools[name];
  await buildGoModule({
    module,
    version: `v${version}`,
    pkg,
    tags: [],
    ldflags: `-s -w ${versionFlags[name](version)}`,
    output: cachedTool(name),
    workDir: path.join(referenceCacheDir, 'src'),
    log,
  });
  return cachedTool(name);
}
