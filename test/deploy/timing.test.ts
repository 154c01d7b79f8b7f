import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { app, breakAnnotation, breakOne } from './mutate.ts';
import { type K8sObject, overlays, renderOverlay, repoRoot } from './render.ts';
import { closeAllowanceSeconds, type Timing, timingOf, timingViolations } from './timing.ts';

const services = ['auth', 'products', 'orders'];

// docs/cluster.md's table, row label → the number the manifests must produce.
const rows: Record<string, (t: Timing) => number> = {
  'preStop sleep': (t) => t.preStopSeconds,
  'app drain (SHUTDOWN_GRACE_MS)': (t) => t.drainSeconds,
  'app close allowance': () => closeAllowanceSeconds,
  'daprd block-shutdown-duration': (t) => t.blockShutdownSeconds,
  'daprd graceful-shutdown-seconds': (t) => t.daprGracefulSeconds,
  terminationGracePeriodSeconds: (t) => t.terminationGraceSeconds,
  'delivery attempt timeout': (t) => t.deliveryAttemptSeconds,
  'delivery retries': (t) => t.deliveryRetries,
  'delivery back-off, worst': (t) => t.deliveryBackoffWorstSeconds,
  'delivery with all retries, worst': (t) => t.deliveryWorstSeconds,
  processingTimeout: (t) => t.processingTimeoutSeconds,
  redeliverInterval: (t) => t.redeliverIntervalSeconds,
  "takeover of a killed replica's message, worst": (t) => t.takeoverSeconds,
};

function documentedTable(): Map<string, number> {
  const text = readFileSync(path.join(repoRoot, 'docs', 'cluster.md'), 'utf8');
  const table = new Map<string, number>();
  for (const [, label, value] of text.matchAll(/^\| ([^|]+?) \| ([\d.]+) \|/gm))
    table.set(label!, Number(value));
  return table;
}

describe('shutdown and delivery timing', () => {
  describe.each(overlays)('%s', (overlay) => {
    test.each(services)('%s: the numbers fit together', (service) => {
      expect(timingViolations(timingOf(renderOverlay(overlay), service))).toEqual([]);
    });
  });

  test("docs/cluster.md's table shows the rendered numbers, for every service", () => {
    const objects = renderOverlay('k3d');
    const table = documentedTable();

    expect([...table.keys()].sort()).toEqual(Object.keys(rows).sort());
    for (const service of services) {
      const timing = timingOf(objects, service);
      for (const [label, value] of Object.entries(rows)) {
        expect([service, label, table.get(label)]).toEqual([
          service,
          label,
          Number(value(timing).toFixed(1)),
        ]);
      }
    }
  });

  describe('broken fixtures: each inequality objects', () => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = renderOverlay('k3d');
    });
    const violations = (broken: K8sObject[], service: string) =>
      timingViolations(timingOf(broken, service));

    test('a preStop shorter than endpoint propagation', () => {
      const broken = breakOne(
        objects,
        'Deployment',
        'auth',
        (d) => (app(d).lifecycle.preStop.sleep.seconds = 1),
      );

      expect(violations(broken, 'auth')).toEqual([
        'preStop 1 s < 5 s: the pod may stop accepting before it leaves the endpoints',
      ]);
    });

    test('daprd giving up before the app has drained', () => {
      const broken = breakAnnotation(objects, 'orders', 'dapr.io/block-shutdown-duration', '10s');

      expect(violations(broken, 'orders')).toEqual([
        'daprd blocks 10 s < app done at 20 s: the draining app loses its sidecar',
      ]);
    });

    test('a termination grace shorter than the shutdown', () => {
      const broken = breakOne(
        objects,
        'Deployment',
        'products',
        (d) => (d.spec.template.spec.terminationGracePeriodSeconds = 24),
      );

      expect(violations(broken, 'products')).toEqual([
        'terminationGracePeriodSeconds 24 < 25 s: SIGKILL cuts the shutdown',
      ]);
    });

    test('a processingTimeout shorter than a delivery with its retries', () => {
      const broken = breakOne(
        objects,
        'Component',
        'pubsub',
        (c) =>
          (c.spec.metadata.find((m: { name: string }) => m.name === 'processingTimeout').value =
            '120s'),
      );

      expect(violations(broken, 'auth')).toEqual([
        'processingTimeout 120 s <= worst delivery 133.7 s: a message still being retried is handed to another replica',
      ]);
    });

    test('an inbound delivery without a timeout has no bound at all', () => {
      const broken = breakOne(
        objects,
        'Resiliency',
        'sidecart',
        (r) => delete r.spec.targets.components.pubsub.inbound.timeout,
      );

      expect(violations(broken, 'auth')).toEqual([
        'processingTimeout 150 s <= worst delivery Infinity s: a message still being retried is handed to another replica',
      ]);
    });

    test('redelivery switched off', () => {
      const broken = breakOne(
        objects,
        'Component',
        'pubsub',
        (c) =>
          (c.spec.metadata.find((m: { name: string }) => m.name === 'redeliverInterval').value =
            '0s'),
      );

      expect(violations(broken, 'auth')).toEqual([
        'redeliverInterval 0 turns redelivery off: a killed replica’s messages are never taken over',
      ]);
    });
  });
});
