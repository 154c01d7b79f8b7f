import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { isTraversableByOthers } from '../postgres/paths.ts';

/** Mode of every file the runtime writes in the data folder: logs, keys, stack.json. */
export const privateFileMode = 0o600;

/**
 * Keeps the data folder to its user: logs (which may quote requests), keys and stack.json are
 * 0600 in 0700 folders, including those an earlier version left world-readable. As root, the
 * folder itself is 0711: the `postgres` user must still walk through it to its own data folder
 * (0700, its own), but may list nothing and open nothing else.
 */
export function makeDataDirPrivate(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const postgresWalksThrough =
    userInfo().uid === 0 && isTraversableByOthers(path.dirname(path.resolve(dataDir)));
  chmodSync(dataDir, postgresWalksThrough ? 0o711 : 0o700);
  for (const folder of ['logs', 'keys']) {
    const dir = path.join(dataDir, folder);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) chmodSync(path.join(dir, entry.name), privateFileMode);
    }
  }
  const stackFile = path.join(dataDir, 'stack.json');
  if (existsSync(stackFile)) chmodSync(stackFile, privateFileMode);
}
