import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { loadDevConfig } from './stack/config.ts';
import { shortPath } from './stack/console-report.ts';
import { postgresDataDir, stopOrphanPostmaster } from './postgres/cluster.ts';
import { describeLiveStack, liveStack } from './stack/stack-file.ts';

// `npm run reset`: forget all local data (databases, keys, logs), never under a live stack.
const known = new Set(['postgres', 'logs', 'keys', 'stack.json']);

try {
  const { dataDir } = loadDevConfig();
  const live = liveStack(dataDir);
  if (live) throw new Error(describeLiveStack(live, dataDir));
  const pgDataDir = postgresDataDir(path.join(dataDir, 'postgres'));
  await stopOrphanPostmaster(pgDataDir, console.log);
  if (existsSync(dataDir)) {
    const strangers = readdirSync(dataDir).filter(
      (entry) => !known.has(entry) && !entry.endsWith('.tmp'),
    );
    if (strangers.length > 0) {
      throw new Error(
        `${dataDir} holds ${strangers.join(', ')}: not a sidecart data folder? Remove it by hand.`,
      );
    }
    rmSync(dataDir, { recursive: true, force: true });
    console.log(`removed ${shortPath(dataDir)} (databases, signing keys, logs)`);
  } else {
    console.log(`nothing to remove: ${shortPath(dataDir)} does not exist`);
  }
  if (pgDataDir !== path.join(dataDir, 'postgres') && existsSync(path.dirname(pgDataDir))) {
    rmSync(path.dirname(pgDataDir), { recursive: true, force: true });
    console.log(`removed ${pgDataDir} (where PostgreSQL kept its data)`);
  }
} catch (error) {
  console.error(`npm run reset: ${(error as Error).message}`);
  process.exitCode = 1;
}
