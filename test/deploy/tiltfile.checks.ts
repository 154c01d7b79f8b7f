import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, type K8sObject } from './render.ts';
import { kubeContext, services } from './k3d-cluster.ts';

// Checks of tilt/Tiltfile without Tilt: tiltfile-eval.py parses it (Starlark only) and runs it
// with a stub per Tilt built-in, against the rendered k3d overlay; these rules read what it called.

export const tiltDir = path.join(repoRoot, 'tilt');
export const readTiltfile = () => readFileSync(path.join(tiltDir, 'Tiltfile'), 'utf8');

export type Call = { fn: string; args: any[]; kwargs: Record<string, any> };
export interface Evaluation {
  problems: string[];
  calls: Call[];
  applied: K8sObject[];
  error: string | null;
}

/** Why the Tiltfile checks cannot run here, or undefined when they can. */
export function python3Missing(): string | undefined {
  const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : 'python3 is not installed (it reads the Tiltfile)';
}

export function evaluateTiltfile(
  text: string,
  overlay: K8sObject[],
  context = kubeContext,
): Evaluation {
  const dir = mkdtempSync(path.join(tmpdir(), 'tiltfile-'));
  try {
    writeFileSync(path.join(dir, 'Tiltfile'), text);
    writeFileSync(path.join(dir, 'overlay.json'), JSON.stringify(overlay));
    const script = path.join(import.meta.dirname, 'tiltfile-eval.py');
    const output = execFileSync(
      'python3',
      [script, path.join(dir, 'Tiltfile'), path.join(dir, 'overlay.json'), context],
      {
        encoding: 'utf8',
      },
    );
    return JSON.parse(output) as Evaluation;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TiltfileInput {
  /** Run in the cluster's context. */
  run: Evaluation;
  /** Run in another k3d cluster's context: must stop. */
  foreign: Evaluation;
  overlay: K8sObject[];
}

export function tiltfileInput(text: string, overlay: K8sObject[]): TiltfileInput {
  let foreign: Evaluation | undefined;
  return {
    run: evaluateTiltfile(text, overlay),
    // Only one rule reads it: run on demand.
    get foreign() {
      return (foreign ??= evaluateTiltfile(text, overlay, 'k3d-another'));
    },
    overlay,
  };
}

const workloadKinds = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'ReplicaSet',
  'Pod',
]);
const callsOf = (run: Evaluation, fn: string) => run.calls.filter((call) => call.fn === fn);
const fromTilt = (relative: string) => path.resolve(tiltDir, relative);
const list = (value: unknown): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
type PodTemplate = {
  metadata?: { annotations?: Record<string, string> };
  spec?: {
    containers?: { name: string; image?: string; securityContext?: Record<string, unknown> }[];
  };
};
const podTemplate = (object: K8sObject): PodTemplate | undefined =>
  object.kind === 'CronJob'
    ? (object as any).spec?.jobTemplate?.spec?.template
    : (object as any).spec?.template;
const workloads = (overlay: K8sObject[]) =>
  overlay.filter((object) => workloadKinds.has(object.kind));
const imagesOf = (object: K8sObject) =>
  (podTemplate(object)?.spec?.containers ?? []).map((c) => c.image);
const daprEnabled = (object: K8sObject) =>
  podTemplate(object)?.metadata?.annotations?.['dapr.io/enabled'] === 'true';

/** Resource names and what each depends on, as Tilt would assemble them. */
function resourceGraph(run: Evaluation, overlay: K8sObject[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const add = (name: string, deps: unknown) => {
    const entry = graph.get(name) ?? new Set<string>();
    for (const dep of list(deps)) entry.add(dep);
    graph.set(name, entry);
  };
  for (const workload of workloads(overlay)) add(workload.metadata.name, []);
  for (const call of callsOf(run, 'helm_resource')) add(call.args[0], call.kwargs.resource_deps);
  for (const call of callsOf(run, 'helm_repo'))
    add(call.kwargs.resource_name || call.args[0], call.kwargs.resource_deps);
  for (const call of callsOf(run, 'local_resource')) add(call.args[0], call.kwargs.resource_deps);
  for (const call of callsOf(run, 'k8s_resource')) {
    add(call.kwargs.new_name || call.args[0] || call.kwargs.workload, call.kwargs.resource_deps);
  }
  return graph;
}

function dependsOn(
  graph: Map<string, Set<string>>,
  from: string,
  target: string,
  seen = new Set<string>(),
): boolean {
  if (seen.has(from)) return false;
  seen.add(from);
  return [...(graph.get(from) ?? [])].some(
    (dep) => dep === target || dependsOn(graph, dep, target, seen),
  );
}

type Rule = (input: TiltfileInput) => string[];

/** Every rule, by name; each returns the problems it finds (none: the rule holds). */
export const tiltfileRules: Record<string, Rule> = {
  // Constructs Starlark lacks, names that are no Tilt built-in, load()ed or defined.
  starlark: ({ run }) => run.problems,

  evaluates: ({ run }) => (run.error === null ? [] : [`the Tiltfile stops: ${run.error}`]),

  // Tilt allows every k3d context by default; the Tiltfile allows only this cluster's.
  contextGuard: ({ foreign }) =>
    foreign.error?.startsWith('fail()')
      ? []
      : ['the Tiltfile deploys to another k3d cluster’s context'],

  // Tilt swaps an image only where a manifest names it exactly as docker_build does.
  images: ({ run, overlay }) => {
    const built = callsOf(run, 'docker_build').map((call) => String(call.args[0]));
    const referenced = new Set(workloads(overlay).flatMap(imagesOf));
    const wanted = services.map((service) => `sidecart/${service}`);
    return [
      ...built
        .filter((image) => !referenced.has(image))
        .map((image) => `${image} is built but no workload runs it`),
      ...wanted.filter((image) => !built.includes(image)).map((image) => `${image} is not built`),
    ];
  },

  dockerBuild: ({ run }) =>
    callsOf(run, 'docker_build').flatMap((call) => {
      const image = String(call.args[0]);
      const context = fromTilt(String(call.args[1]));
      const dockerfile = fromTilt(
        String(call.kwargs.dockerfile ?? path.join(String(call.args[1]), 'Dockerfile')),
      );
      if (!existsSync(dockerfile)) return [`${image}: ${dockerfile} does not exist`];
      const text = readFileSync(dockerfile, 'utf8');
      const workdir = /^WORKDIR\s+(\S+)/m.exec(text)?.[1] ?? '/';
      const only = list(call.kwargs.only).map((entry) => path.resolve(context, entry));
      const steps = (call.kwargs.live_update ?? []) as Record<string, string[]>[];
      const syncs = steps.filter((step) => step.sync).map((step) => step.sync!);
      const fallBacks = steps.flatMap((step) => step.fall_back_on ?? []).map(fromTilt);
      const covered = (file: string) =>
        only.length === 0 || only.some((entry) => file === entry || file.startsWith(`${entry}/`));
      return [
        ...(context === repoRoot ? [] : [`${image}: the context is not the repository root`]),
        ...(new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${call.kwargs.target}\\s*$`, 'mi').test(text)
          ? []
          : [
              `${image}: ${path.relative(repoRoot, dockerfile)} has no stage ${call.kwargs.target}`,
            ]),
        ...only
          .filter((entry) => !existsSync(entry))
          .map((entry) => `${image}: only ${entry} does not exist`),
        ...(syncs.length > 0 ? [] : [`${image}: no live update sync`]),
        ...syncs.flatMap(([local, remote]) => {
          const source = fromTilt(local!);
          const expected = path.posix.join(workdir, path.relative(context, source));
          return [
            ...(existsSync(source) ? [] : [`${image}: sync ${local} does not exist`]),
            ...(covered(source) ? [] : [`${image}: sync ${local} is outside only=`]),
            ...(remote === expected
              ? []
              : [`${image}: sync to ${remote}, but the image has it at ${expected}`]),
          ];
        }),
        ...fallBacks
          .filter((file) => !existsSync(file))
          .map((file) => `${image}: fall_back_on ${file} does not exist`),
        ...fallBacks
          .filter((file) => !covered(file))
          .map((file) => `${image}: fall_back_on ${file} is outside only=`),
      ];
    }),

  // k8s_resource names a workload Tilt assembles, or groups objects that exist, each once.
  resources: ({ run, overlay }) => {
    const names = new Set(workloads(overlay).map((object) => object.metadata.name));
    const selects = (selector: string, object: K8sObject) => {
      const [name, kind, namespace] = selector.toLowerCase().split(':');
      return (
        object.metadata.name.toLowerCase() === name &&
        (!kind || object.kind.toLowerCase() === kind) &&
        (!namespace || (object.metadata.namespace ?? '').toLowerCase() === namespace)
      );
    };
    const graph = resourceGraph(run, overlay);
    const grouped = callsOf(run, 'k8s_resource').flatMap((call) => list(call.kwargs.objects));
    return [
      ...callsOf(run, 'k8s_resource')
        .filter((call) => !call.kwargs.new_name || call.args[0] || call.kwargs.workload)
        .map((call) => String(call.args[0] ?? call.kwargs.workload))
        .filter((name) => !names.has(name))
        .map((name) => `k8s_resource(${name}): no such workload`),
      ...grouped
        .filter((selector) => overlay.filter((object) => selects(selector, object)).length !== 1)
        .map((selector) => `objects ${selector} does not match exactly one object`),
      ...[...graph.values()]
        .flatMap((deps) => [...deps])
        .filter((dep) => !graph.has(dep))
        .map((dep) => `resource_deps names ${dep}, which is no resource`),
      // Dapr's kinds fail to apply before the chart's CRDs exist: each must wait for Dapr.
      ...overlay
        .filter((object) => object.apiVersion.startsWith('dapr.io/'))
        .filter((object) => {
          const owner = callsOf(run, 'k8s_resource').find((call) =>
            list(call.kwargs.objects).some((selector) => selects(selector, object)),
          );
          return (
            !owner ||
            !dependsOn(graph, owner.kwargs.new_name || owner.args[0], daprResource(run) ?? '')
          );
        })
        .map(
          (object) =>
            `${object.metadata.name}:${object.kind} is not in a resource that waits for Dapr`,
        ),
    ];
  },

  // No app pod may be created before the injector is up (its webhook fails open), nor before
  // the data stores and its migrations.
  order: ({ run, overlay }) => {
    const dapr = daprResource(run);
    if (!dapr) return ['no helm_resource installs the dapr chart'];
    const graph = resourceGraph(run, overlay);
    const dataStores = overlay
      .filter((object) => object.kind === 'StatefulSet')
      .map((object) => object.metadata.name);
    return workloads(overlay)
      .filter(daprEnabled)
      .flatMap((app) => {
        const migrations = workloads(overlay)
          .filter(
            (object) =>
              object.kind === 'Job' &&
              imagesOf(object).some((image) => imagesOf(app).includes(image)),
          )
          .map((object) => object.metadata.name);
        return [dapr, ...dataStores, ...migrations]
          .filter((target) => !dependsOn(graph, app.metadata.name, target))
          .map((target) => `${app.metadata.name} does not wait for ${target}`);
      });
  },

  daprChart: ({ run }) => {
    const install = callsOf(run, 'helm_resource').find((call) =>
      String(call.args[1]).endsWith('/dapr'),
    );
    if (!install) return ['no helm_resource installs the dapr chart'];
    const repo = String(install.args[1]).split('/')[0];
    const flags = list(install.kwargs.flags);
    const declared = callsOf(run, 'helm_repo').find((call) => call.args[0] === repo);
    return [
      ...(declared?.args[1] === 'https://dapr.github.io/helm-charts/'
        ? []
        : [`helm repo ${repo} is not Dapr's`]),
      ...(flags.some((flag) => /^--version=\d+\.\d+\.\d+$/.test(flag))
        ? []
        : ['the chart version is not pinned']),
      ...(install.kwargs.namespace === 'dapr-system' ? [] : ['Dapr is not in dapr-system']),
      ...(flags.includes('--create-namespace') ? [] : ['dapr-system is not created']),
    ];
  },

  // Live update writes into the app container: the dev loop lifts its read-only root, and
  // changes nothing else of the overlay.
  readOnlyLift: ({ run, overlay }) => {
    const expected = structuredClone(overlay);
    for (const object of expected) {
      if (object.kind !== 'Deployment' || !services.includes(object.metadata.name as never))
        continue;
      for (const container of podTemplate(object)?.spec?.containers ?? []) {
        if (container.name === 'app')
          container.securityContext = {
            ...container.securityContext,
            readOnlyRootFilesystem: false,
          };
      }
    }
    return JSON.stringify(run.applied) === JSON.stringify(expected)
      ? []
      : [
          'what the Tiltfile applies is not the overlay with the app containers’ root filesystem writable',
        ];
  },

  // The chaos test on demand: a manual button, never on `tilt up`, running a script that exists.
  chaos: ({ run }) => {
    const scripts = (
      JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    const buttons = callsOf(run, 'local_resource').filter((call) =>
      /\bnpm run test:chaos\b/.test(String(call.kwargs.cmd ?? call.args[1])),
    );
    if (buttons.length === 0) return ['no local_resource runs npm run test:chaos'];
    if (!scripts['test:chaos']) return ['package.json has no test:chaos script'];
    return buttons.flatMap((button) => [
      ...(button.kwargs.trigger_mode === 'TRIGGER_MODE_MANUAL'
        ? []
        : [`${button.args[0]} is not manual`]),
      ...(button.kwargs.auto_init === false ? [] : [`${button.args[0]} runs on tilt up`]),
      ...(fromTilt(button.kwargs.dir ?? '.') === repoRoot
        ? []
        : [`${button.args[0]} does not run in the repository root`]),
    ]);
  },

  // k3d holds 8080 (the API) and 5005 (the registry) on the host.
  portForwards: ({ run }) => {
    const ports = callsOf(run, 'k8s_resource').flatMap((call) =>
      list(call.kwargs.port_forwards).map(
        (forward) => String(forward).split(':').at(-2) ?? String(forward),
      ),
    );
    return [
      ...ports
        .filter((port, index) => ports.indexOf(port) !== index)
        .map((port) => `port ${port} is forwarded twice`),
      ...ports
        .filter((port) => ['8080', '5005'].includes(port))
        .map((port) => `port ${port} is k3d's`),
    ];
  },
};

function daprResource(run: Evaluation): string | undefined {
  return callsOf(run, 'helm_resource').find((call) => String(call.args[1]).endsWith('/dapr'))
    ?.args[0];
}

export function checkTiltfile(input: TiltfileInput): string[] {
  return Object.entries(tiltfileRules).flatMap(([rule, check]) =>
    check(input).map((problem) => `${rule}: ${problem}`),
  );
}
