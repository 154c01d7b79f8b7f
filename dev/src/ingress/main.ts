import { startIngress, type Ingress } from './ingress.ts';
import type { FromIngress, IngressSettings, ToIngress } from './ingress-process.ts';
import type { Target } from '../replicas/supervisor.ts';

// The ingress process, forked by the supervisor (ingress-process.ts): settings as the argument,
// healthy targets and shutdown over the IPC channel.
const settings = JSON.parse(process.argv[2] ?? '{}') as IngressSettings;
const targets = new Map<string, Target[]>();
const tell = (message: FromIngress) => process.send?.(message);
let ingress: Ingress | undefined;

const closeAndExit = async () => {
  await ingress?.close();
  tell({ type: 'closed' });
  process.exit(0);
};

process.on('message', (message: ToIngress) => {
  if (message.type === 'targets') targets.set(message.service, message.targets);
  else if (message.type === 'close') void closeAndExit();
  else if (message.type === 'close-all') ingress?.closeAllConnections();
});
// The supervisor is gone (even SIGKILLed): nobody would feed targets or stop us.
process.on('disconnect', () => void closeAndExit());
// The supervisor closes the ingress first on Ctrl-C; a signal to our group must not beat it.
process.on('SIGINT', () => {});

try {
  ingress = await startIngress({
    ...settings,
    targets: (service) => targets.get(service) ?? [],
    onUnreachable: (replica) => tell({ type: 'unreachable', replica }),
  });
  tell({ type: 'listening', port: ingress.port });
} catch (error) {
  process.send?.({ type: 'failed', message: (error as Error).message } satisfies FromIngress, () =>
    process.exit(1),
  );
}
