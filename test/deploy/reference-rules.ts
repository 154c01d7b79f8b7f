import { catalog } from '@sidecart/dev/services';
import type { Rule } from './policy-rules.ts';
import type { K8sObject } from './render.ts';
import { annotationsOf, daprApps, named, ofKind, selects, workloads } from './workloads.ts';

// Names that must meet: a typo here deploys fine and fails at run time, on the cluster.

type Spec = Record<string, unknown>;
const specOf = (object: K8sObject) => (object.spec ?? {}) as Spec;
const appIds = (objects: K8sObject[]) =>
  daprApps(objects).map((app) => annotationsOf(app)['dapr.io/app-id']!);

/** Every (Secret, key) the objects name, with who names it. */
function secretReferences(objects: K8sObject[]) {
  const references: Array<{ by: string; name: string; key?: string }> = [];
  for (const workload of workloads(objects)) {
    for (const container of workload.template.spec.containers) {
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) references.push({ by: `${workload.id} env ${variable.name}`, ...ref });
      }
    }
    for (const volume of workload.template.spec.volumes ?? []) {
      if (volume.secret)
        references.push({
          by: `${workload.id} volume ${volume.name}`,
          name: volume.secret.secretName,
        });
    }
    const annotations = annotationsOf(workload);
    // daprd reads key `token` of the Secrets these annotations name.
    for (const key of ['dapr.io/api-token-secret', 'dapr.io/app-token-secret']) {
      if (annotations[key])
        references.push({ by: `${workload.id} ${key}`, name: annotations[key], key: 'token' });
    }
  }
  for (const component of ofKind(objects, 'Component')) {
    for (const item of (specOf(component).metadata ?? []) as Array<{
      name: string;
      secretKeyRef?: { name: string; key: string };
    }>) {
      if (item.secretKeyRef)
        references.push({
          by: `Component/${component.metadata.name} ${item.name}`,
          ...item.secretKeyRef,
        });
    }
  }
  return references;
}

const secretKeys = (secret: K8sObject) => [
  ...Object.keys((secret.stringData ?? {}) as object),
  ...Object.keys((secret.data ?? {}) as object),
];

export const referenceRules: Rule[] = [
  {
    name: 'Services select pods that declare their target ports',
    check: (objects) =>
      ofKind(objects, 'Service').flatMap((service) => {
        const { selector, ports = [] } = specOf(service) as {
          selector?: Record<string, string>;
          ports?: Array<{ targetPort?: string | number }>;
        };
        if (!selector) return []; // ExternalName and headless-by-hand Services select nothing
        const pods = workloads(objects).filter((w) =>
          selects(selector, w.template.metadata?.labels),
        );
        if (pods.length === 0) return [`Service/${service.metadata.name}: selects no pods`];
        return ports
          .filter(({ targetPort }) => targetPort !== undefined)
          .filter(
            ({ targetPort }) =>
              !pods.some((w) =>
                w.template.spec.containers.some((c) =>
                  c.ports?.some((p) => p.name === targetPort || p.containerPort === targetPort),
                ),
              ),
          )
          .map(
            ({ targetPort }) =>
              `Service/${service.metadata.name}: no selected pod declares port ${targetPort}`,
          );
      }),
  },
  {
    name: 'the ingress routes exactly the local prefixes to existing Services, retrying idempotent methods only',
    check: (objects) => {
      type Route = {
        match: string;
        middlewares?: Array<{ name: string }>;
        services: Array<{ name: string; port: string | number }>;
      };
      const routes = ofKind(objects, 'IngressRoute').flatMap(
        (r) => (specOf(r).routes ?? []) as Route[],
      );
      const problems: string[] = [];
      const routed = new Map<string, string>();
      for (const route of routes) {
        const prefix = /PathPrefix\(`([^`]+)\/`\)/.exec(route.match)?.[1];
        const methods = [...route.match.matchAll(/Method\(`([A-Z]+)`\)/g)].map((m) => m[1]!);
        const retried = (route.middlewares ?? []).some(
          (m) =>
            (
              specOf(named(objects, 'Middleware', m.name) ?? ({} as K8sObject)) as {
                retry?: unknown;
              }
            ).retry,
        );
        for (const middleware of route.middlewares ?? []) {
          if (!named(objects, 'Middleware', middleware.name))
            problems.push(`route ${route.match}: no Middleware ${middleware.name}`);
        }
        if (
          retried &&
          (methods.length === 0 || methods.some((m) => ['POST', 'PATCH'].includes(m)))
        ) {
          problems.push(`route ${route.match}: retries a non-idempotent method`);
        }
        for (const { name, port } of route.services) {
          const service = named(objects, 'Service', name);
          const ports =
            (service && (specOf(service).ports as Array<{ name?: string; port: number }>)) ?? [];
          if (!ports.some((p) => p.name === port || p.port === port))
            problems.push(`route ${route.match}: no Service ${name} with port ${port}`);
          if (prefix) routed.set(prefix, name);
        }
      }
      const expected = catalog.flatMap(({ name, prefixes }) =>
        prefixes.map((prefix) => [prefix, name] as const),
      );
      for (const [prefix, service] of expected) {
        if (routed.get(prefix) !== service)
          problems.push(
            `${prefix} is not routed to ${service} (the local ingress routes it there)`,
          );
      }
      for (const prefix of routed.keys()) {
        if (!expected.some(([p]) => p === prefix))
          problems.push(`${prefix} is routed, but not by the local ingress`);
      }
      return problems;
    },
  },
  {
    name: 'every secret reference names a Secret and key in the render',
    check: (objects) =>
      secretReferences(objects).flatMap(({ by, name, key }) => {
        const secret = named(objects, 'Secret', name);
        if (!secret) return [`${by}: no Secret ${name}`];
        return key && !secretKeys(secret).includes(key)
          ? [`${by}: Secret ${name} has no key ${key}`]
          : [];
      }),
  },
  {
    name: 'Dapr resources scope existing app ids at the top level',
    check: (objects) => {
      const ids = appIds(objects);
      return objects
        .filter((object) => object.apiVersion.startsWith('dapr.io/'))
        .flatMap((object) => [
          ...('scopes' in specOf(object)
            ? [`${object.kind}/${object.metadata.name}: scopes under spec are ignored by daprd`]
            : []),
          ...((object.scopes ?? []) as string[])
            .filter((scope) => !ids.includes(scope))
            .map((scope) => `${object.kind}/${object.metadata.name}: scope ${scope} is no app id`),
        ]);
    },
  },
  {
    name: 'Subscriptions name a pub/sub Component',
    check: (objects) =>
      ofKind(objects, 'Subscription')
        .map((subscription) => specOf(subscription).pubsubname as string)
        .filter(
          (name) =>
            !String(
              (named(objects, 'Component', name)?.spec as Spec | undefined)?.type ?? '',
            ).startsWith('pubsub.'),
        )
        .map((name) => `Subscription names pubsub ${name}, which is no pubsub Component`),
  },
  {
    name: 'dapr.io/config names a Configuration that lets only orders call /internal',
    check: (objects) =>
      daprApps(objects).flatMap((app) => {
        const name = annotationsOf(app)['dapr.io/config']!;
        const configuration = named(objects, 'Configuration', name);
        if (!configuration) return [`${app.id}: no Configuration ${name}`];
        type Policy = { appId: string; operations?: Array<{ name: string; action: string }> };
        const control = specOf(configuration).accessControl as
          { defaultAction?: string; policies?: Policy[] } | undefined;
        const internal = (control?.policies ?? [])
          .filter((policy) =>
            (policy.operations ?? []).some(
              (op) => op.name.startsWith('/internal') && op.action === 'allow',
            ),
          )
          .map((policy) => policy.appId);
        return control?.defaultAction === 'deny' && internal.join() === 'orders'
          ? []
          : [
              `Configuration/${name}: /internal/** must be denied by default and allowed to orders only (allowed: ${internal.join() || 'none'})`,
            ];
      }),
  },
  {
    name: 'Resiliency targets name existing apps and Components',
    check: (objects) =>
      ofKind(objects, 'Resiliency').flatMap((resiliency) => {
        const targets = (specOf(resiliency).targets ?? {}) as {
          apps?: object;
          components?: object;
        };
        return [
          ...Object.keys(targets.apps ?? {})
            .filter((id) => !appIds(objects).includes(id))
            .map((id) => `Resiliency: app ${id} does not exist`),
          ...Object.keys(targets.components ?? {})
            .filter((c) => !named(objects, 'Component', c))
            .map((c) => `Resiliency: Component ${c} does not exist`),
        ];
      }),
  },
  {
    name: 'ServiceAccounts, ConfigMaps and RoleBinding subjects exist',
    check: (objects) => [
      ...workloads(objects).flatMap((w) => [
        ...(w.template.spec.serviceAccountName &&
        !named(objects, 'ServiceAccount', w.template.spec.serviceAccountName)
          ? [`${w.id}: no ServiceAccount ${w.template.spec.serviceAccountName}`]
          : []),
        ...(w.template.spec.volumes ?? [])
          .filter((v) => v.configMap && !named(objects, 'ConfigMap', v.configMap.name))
          .map((v) => `${w.id}: no ConfigMap ${v.configMap!.name}`),
      ]),
      ...ofKind(objects, 'RoleBinding').flatMap((binding) =>
        ((binding.subjects ?? []) as Array<{ kind: string; name: string }>)
          .filter((s) => !named(objects, s.kind, s.name))
          .map((s) => `RoleBinding/${binding.metadata.name}: no ${s.kind} ${s.name}`),
      ),
    ],
  },
  {
    name: 'autoscalers scale an existing Deployment on a container it has',
    check: (objects) =>
      ofKind(objects, 'HorizontalPodAutoscaler').flatMap((hpa) => {
        const { scaleTargetRef, metrics = [] } = specOf(hpa) as {
          scaleTargetRef: { kind: string; name: string };
          metrics?: Array<{ containerResource?: { container: string } }>;
        };
        const [target] = workloads(objects).filter(
          (w) =>
            w.object.kind === scaleTargetRef.kind && w.object.metadata.name === scaleTargetRef.name,
        );
        if (!target)
          return [
            `HorizontalPodAutoscaler/${hpa.metadata.name}: no ${scaleTargetRef.kind} ${scaleTargetRef.name}`,
          ];
        return metrics
          .map((metric) => metric.containerResource?.container)
          .filter((name) => name && !target.template.spec.containers.some((c) => c.name === name))
          .map(
            (name) =>
              `HorizontalPodAutoscaler/${hpa.metadata.name}: ${target.id} has no container ${name}`,
          );
      }),
  },
  {
    name: 'everything lives in the sidecart namespace',
    check: (objects) =>
      objects
        .filter((object) => object.kind !== 'Namespace' && object.metadata.namespace !== 'sidecart')
        .map(
          (object) =>
            `${object.kind}/${object.metadata.name}: namespace ${object.metadata.namespace ?? '(none)'}`,
        ),
  },
];
