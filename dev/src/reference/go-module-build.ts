import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BuildError, explainDownloadFailure, goEnv, refusedModules, runGo } from './go.ts';

export interface GoModuleBuild {
  /** Module path and version, e.g. github.com/dapr/dapr v1.18.3. */
  module: string;
  version: string;
  /** The main package inside the module, e.g. ./cmd/daprd. */
  pkg: string;
  tags: string[];
  ldflags: string;
  /** Where the binary goes; a build.json beside it records how it was made. */
  output: string;
  /** Edits the writable copy of the module before the build (e.g. a component allowlist). */
  prepare?: (dir: string) => string[];
  /**
   * Versions to use for dependencies the proxy refuses (`module@version` → version): a proxy
   * may not serve every version, and a module with `replace` lines cannot be `go install`ed.
   */
  fallbacks?: Record<string, string>;
  /** Scratch space for the writable copy; removed after the build. */
  workDir: string;
  log: (line: string) => void;
}

/**
 * `go install module@version` refuses modules whose go.mod has `replace` lines (daprd's has),
 * so this downloads the module, builds the package from a writable copy with the module's own
 * go.mod, and moves the binary into place only when the build succeeded.
 */
export async function buildGoModule(build: GoModuleBuild): Promise<void> {
  const { log } = build;
  const env = await goEnv();
  log(`go ${env.GOVERSION}, GOPROXY=${env.GOPROXY}`);
  const source = await downloadModule(build, env.GOPROXY);
  const dir = path.join(build.workDir, `${path.basename(build.module)}-${build.version}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(build.workDir, { recursive: true });
  cpSync(source, dir, { recursive: true });
  // The module cache is read-only; the copy must be writable for go.mod edits and allowlists.
  spawnSync('chmod', ['-R', 'u+w', dir]);
  const notes = build.prepare?.(dir) ?? [];
  for (const note of notes) log(note);
  let replaced: Record<string, string>;
  try {
    replaced = await resolveDependencies(build, dir, env.GOPROXY);
    await compile(build, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const record = {
    module: build.module,
    version: build.version,
    package: build.pkg,
    tags: build.tags,
    go: env.GOVERSION,
    notes,
    replaced,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(
    path.join(path.dirname(build.output), 'build.json'),
    JSON.stringify(record, null, 2),
  );
  rmSync(dir, { recursive: true, force: true });
}

async function downloadModule(build: GoModuleBuild, proxy: string): Promise<string> {
  const what = `${build.module}@${build.version}`;
  build.log(`downloading ${what} (the module's source, from the Go module proxy)`);
  const run = await runGo(['mod', 'download', '-json', what]);
  const info = run.stdout ? (JSON.parse(run.stdout) as { Dir?: string; Error?: string }) : {};
  if (run.code !== 0 || !info.Dir) {
    throw explainDownloadFailure(what, info.Error ?? run.stderr, proxy);
  }
  return info.Dir;
}

const goFlags = { GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };

/** Lists the build's packages (downloading their modules); refused modules get their fallback. */
async function resolveDependencies(
  build: GoModuleBuild,
  dir: string,
  proxy: string,
): Promise<Record<string, string>> {
  const replaced: Record<string, string> = {};
  for (;;) {
    build.log('downloading dependencies (first time only: the module cache keeps them)');
    const args = ['list', '-deps', '-tags', build.tags.join(','), build.pkg];
    const run = await runGo(args, { cwd: dir, env: goFlags, nice: true });
    if (run.code === 0) return replaced;
    const refused = refusedModules(run.stderr).filter((module) => !(module in replaced));
    const unfixable = refused.filter((module) => !build.fallbacks?.[module]);
    if (refused.length === 0 || unfixable.length > 0) {
      throw explainDownloadFailure(`the dependencies of ${build.module}`, run.stderr, proxy);
    }
    for (const module of refused) {
      const [name] = module.split('@') as [string];
      const fallback = build.fallbacks![module]!;
      build.log(`the proxy refuses ${module}: using ${name}@${fallback} instead (go.mod replace)`);
      await runGo(['mod', 'edit', '-replace', `${name}=${name}@${fallback}`], { cwd: dir });
      replaced[module] = fallback;
    }
  }
}

async function compile(build: GoModuleBuild, dir: string): Promise<void> {
  const listed = await runGo(['list', '-deps', '-tags', build.tags.join(','), build.pkg], {
    cwd: dir,
    env: goFlags,
  });
  const total = listed.stdout.trim().split('\n').length;
  const startedAt = Date.now();
  let compiled = 0;
  let reportedAt = 0;
  build.log(`compiling ${build.pkg} (${total} packages; cached ones are skipped) under nice -n 19`);
  const partial = `${build.output}.partial`;
  mkdirSync(path.dirname(build.output), { recursive: true });
  const args = [
    'build',
    '-v',
    '-trimpath',
    '-tags',
    build.tags.join(','),
    '-ldflags',
    build.ldflags,
  ];
  const run = await runGo([...args, '-o', partial, build.pkg], {
    cwd: dir,
    env: goFlags,
    nice: true,
    onLine: (line) => {
      if (!/^[\w.-]+(\/[\w.~-]+)*$/.test(line)) return;
      compiled += 1;
      if (Date.now() - reportedAt < 15_000) return;
      reportedAt = Date.now();
      const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);
      build.log(`  ${compiled}/${total} packages compiled, ${minutes} min`);
    },
  });
  if (run.code !== 0) throw new BuildError(`go build failed:\n${run.stderr.slice(-4000)}`);
  renameSync(partial, build.output);
  const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);
  build.log(`built ${build.output} in ${minutes} min (${compiled} packages compiled)`);
}
