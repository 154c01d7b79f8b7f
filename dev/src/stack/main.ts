import { loadDevConfig, usage, type DevConfig } from './config.ts';
import { report, shortPath } from './console-report.ts';
import { startStack, type RunningStack } from './stack.ts';

// `npm start` (through start.ts): the whole local stack in the foreground until Ctrl-C.
const config = parseConfig();
const interrupt = new AbortController();
const stopRequested = Promise.withResolvers<void>();
let firstSignalAt = 0;
let stack: RunningStack | undefined;

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
// A console piped into `head` or a closed terminal must not take the whole stack down.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
process.exit(await run(config));

async function run(config: DevConfig): Promise<number> {
  const services = config.services.length > 0 ? config.services.join(', ') : 'all services';
  console.log(
    `sidecart local runtime: ${services}, ${config.replicas} replica(s) each, data in ${shortPath(config.dataDir)}`,
  );
  try {
    stack = await startStack(config, interrupt.signal);
  } catch (error) {
    if (interrupt.signal.aborted) {
      report.note('start-up interrupted; everything is stopped');
      return 130;
    }
    report.error((error as Error).message);
    return 1;
  }
  const failure = await Promise.race([stopRequested.promise, stack.failed]);
  if (failure) report.error(`${failure}; stopping the stack`);
  console.log('\nStopping: ingress, then replicas (they drain), then postgres…');
  const startedStopping = Date.now();
  await stack.stop();
  report.step('everything stopped', Date.now() - startedStopping);
  return failure ? 1 : 0;
}

function onSignal(signal: NodeJS.Signals): void {
  if (firstSignalAt === 0) {
    firstSignalAt = Date.now();
    interrupt.abort();
    stopRequested.resolve();
    return;
  }
  // `npm start` forwards the terminal's Ctrl-C, so one keypress can arrive twice.
  if (Date.now() - firstSignalAt < 1000) return;
  report.warn(`${signal} again: killing the replicas without waiting for them to drain`);
  void stack?.kill();
  setTimeout(() => process.exit(1), 5000).unref();
}

function parseConfig(): DevConfig {
  try {
    const config = loadDevConfig();
    if (!config.help) return config;
    console.log(usage);
    process.exit(0);
  } catch (error) {
    console.error(`npm start: ${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}
