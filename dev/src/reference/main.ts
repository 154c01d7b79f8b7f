import { parseArgs } from 'node:util';
import { buildDaprd } from './build-daprd.ts';
import { buildTool, cachedTool, type ToolName } from './build-tools.ts';
import { cachedDaprd, findDaprd, isExecutable } from './daprd-binary.ts';
import { BuildError } from './go.ts';

const usage = `Usage: npm run reference:build -- [daprd] [tilt] [helm] [options]

Builds the reference binaries from their Go modules into the cache (~/.cache/sidecart/,
or $XDG_CACHE_HOME/sidecart/) and reuses what is there. Default: daprd.

  --all-components   daprd with every component (the Makefile's flavor; much longer)
  --force            build again even when the binary is in the cache
  -h, --help         show this help`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'all-components': { type: 'boolean' },
    force: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
const targets = positionals.length > 0 ? positionals : ['daprd'];
const unknown = targets.filter((target) => !['daprd', 'tilt', 'helm'].includes(target));
if (values.help || unknown.length > 0) {
  if (unknown.length > 0) console.error(`unknown target: ${unknown.join(', ')}`);
  console.log(usage);
  process.exit(unknown.length > 0 ? 64 : 0);
}

const log = (target: string) => (line: string) => console.log(`[${target}] ${line}`);
let failed = false;
for (const target of targets) {
  try {
    const path = await buildTarget(target, log(target));
    console.log(`[${target}] ready: ${path}`);
  } catch (error) {
    failed = true;
    if (!(error instanceof BuildError)) throw error;
    console.error(`[${target}] cannot be built: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);

async function buildTarget(target: string, say: (line: string) => void): Promise<string> {
  if (target === 'daprd') {
    const cached = findDaprd(cachedDaprd);
    if ('path' in cached && !values.force) {
      say(`in the cache already (--force builds it again)`);
      return cached.path;
    }
    return buildDaprd({ allComponents: values['all-components'] ?? false, log: say });
  }
  const tool = target as ToolName;
  if (isExecutable(cachedTool(tool)) && !values.force) {
    say(`in the cache already (--force builds it again)`);
    return cachedTool(tool);
  }
  return buildTool(tool, say);
}
