import type { K8sObject } from './render.ts';
import { annotationsOf, appContainer, daprApps, named, seconds } from './workloads.ts';

// The numbers behind docs/cluster.md's shutdown and delivery table, read from the rendered
// objects, and the inequalities that make them fit together.

/** What onClose may take after the drain (outbox relay's last batch, sidecar client, pool). */
export const closeAllowanceSeconds = 5;
/** How long Traefik and the endpoints may take to drop a terminating pod. */
export const endpointPropagationSeconds = 5;

export interface Timing {
  preStopSeconds: number;
  drainSeconds: number;
  blockShutdownSeconds: number;
  daprGracefulSeconds: number;
  terminationGraceSeconds: number;
  deliveryAttemptSeconds: number;
  deliveryRetries: number;
  deliveryBackoffWorstSeconds: number;
  deliveryWorstSeconds: number;
  processingTimeoutSeconds: number;
  redeliverIntervalSeconds: number;
  takeoverSeconds: number;
}

type RetryPolicy = {
  policy?: string;
  duration?: string;
  maxInterval?: string;
  maxRetries?: number;
};

/** daprd's worst back-off (dapr/kit retry: 500 ms ×1.5 per retry, capped, +50 % jitter). */
function worstBackoff(retry: RetryPolicy): number {
  const retries = retry.maxRetries ?? -1;
  if (retries < 0) return Infinity;
  if (retry.policy !== 'exponential') return retries * seconds(retry.duration ?? '5s');
  const cap = seconds(retry.maxInterval ?? '60s');
  return Array.from({ length: retries }, (_, i) => Math.min(0.5 * 1.5 ** i, cap) * 1.5).reduce(
    (sum, interval) => sum + interval,
    0,
  );
}

/** The timing of one service; throws when a number is missing. */
export function timingOf(objects: K8sObject[], service: string): Timing {
  const app = daprApps(objects).find((w) => w.object.metadata.name === service);
  const container = app && appContainer(app);
  if (!app || !container) throw new Error(`no Dapr Deployment ${service}`);
  const annotations = annotationsOf(app);
  const env = (name: string) => container.env?.find((v) => v.name === name)?.value;
  const pubsub = named(objects, 'Component', 'pubsub')?.spec as {
    metadata: Array<{ name: string; value?: string }>;
  };
  const meta = (name: string) => pubsub.metadata.find((m) => m.name === name)?.value ?? '';
  const resiliency = objects.find((o) => o.kind === 'Resiliency')?.spec as {
    policies: { timeouts: Record<string, string>; retries: Record<string, RetryPolicy> };
    targets: { components: Record<string, { inbound?: { timeout?: string; retry?: string } }> };
  };
  const inbound = resiliency.targets.components.pubsub?.inbound ?? {};
  const attempt = inbound.timeout
    ? seconds(resiliency.policies.timeouts[inbound.timeout]!)
    : Infinity;
  const retry = resiliency.policies.retries[inbound.retry ?? ''] ?? { maxRetries: 0 };
  const retries = retry.maxRetries ?? -1;
  const backoff = worstBackoff(retry);
  const processing = seconds(meta('processingTimeout'));
  const redeliver = seconds(meta('redeliverInterval'));
  return {
    preStopSeconds: container.lifecycle?.preStop?.sleep?.seconds ?? 0,
    drainSeconds: Number(env('SHUTDOWN_GRACE_MS') ?? 10_000) / 1000,
    blockShutdownSeconds: seconds(annotations['dapr.io/block-shutdown-duration'] ?? '0s'),
    daprGracefulSeconds: Number(annotations['dapr.io/graceful-shutdown-seconds'] ?? 5),
    terminationGraceSeconds: app.template.spec.terminationGracePeriodSeconds ?? 30,
    deliveryAttemptSeconds: attempt,
    deliveryRetries: retries,
    deliveryBackoffWorstSeconds: backoff,
    deliveryWorstSeconds: (retries + 1) * attempt + backoff,
    processingTimeoutSeconds: processing,
    redeliverIntervalSeconds: redeliver,
    takeoverSeconds: processing + redeliver,
  };
}

/** The inequalities of docs/cluster.md; each violation names the numbers. */
export function timingViolations(t: Timing): string[] {
  const appDone = t.preStopSeconds + t.drainSeconds + closeAllowanceSeconds;
  const daprDone = t.blockShutdownSeconds + t.daprGracefulSeconds;
  const rules: Array<[boolean, string]> = [
    [
      t.preStopSeconds >= endpointPropagationSeconds,
      `preStop ${t.preStopSeconds} s < ${endpointPropagationSeconds} s: the pod may stop accepting before it leaves the endpoints`,
    ],
    [
      t.blockShutdownSeconds >= appDone,
      `daprd blocks ${t.blockShutdownSeconds} s < app done at ${appDone} s: the draining app loses its sidecar`,
    ],
    [
      t.terminationGraceSeconds >= Math.max(appDone, daprDone),
      `terminationGracePeriodSeconds ${t.terminationGraceSeconds} < ${Math.max(appDone, daprDone)} s: SIGKILL cuts the shutdown`,
    ],
    [
      t.processingTimeoutSeconds > t.deliveryWorstSeconds,
      `processingTimeout ${t.processingTimeoutSeconds} s <= worst delivery ${t.deliveryWorstSeconds.toFixed(1)} s: a message still being retried is handed to another replica`,
    ],
    [
      t.redeliverIntervalSeconds > 0,
      'redeliverInterval 0 turns redelivery off: a killed replica’s messages are never taken over',
    ],
  ];
  return rules.filter(([holds]) => !holds).map(([, message]) => message);
}
