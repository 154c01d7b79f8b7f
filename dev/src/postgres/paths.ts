import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

/** Whether a user other than the owner may walk down every folder of this path. */
export function isTraversableByOthers(dir: string): boolean {
  for (let current = dir; ; current = path.dirname(current)) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    if (path.dirname(current) === current) return true;
  }
}
