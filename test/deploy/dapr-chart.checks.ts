import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { cachedTool } from '@sidecart/dev/reference-tools';
import type { Evaluation } from './tiltfile.checks.ts';

// The Dapr chart the Tiltfile installs, rendered offline by the Helm that `npm run
// reference:build` builds, from the chart inside the dapr/dapr Go module that the same build
// downloads for daprd. Checks that every value the Tiltfile sets is one the chart has, and does
// what the Tiltfile means by it.

export type Values = Record<string, unknown>;

export function daprInstall(run: Evaluation) {
  const call = run.calls.find(
    (c) => c.fn === 'helm_resource' && String(c.args[1]).endsWith('/dapr'),
  );
  const flags = ((call?.kwargs.flags ?? []) as string[]).map(String);
  const version = flags.find((flag) => flag.startsWith('--version='))?.slice('--version='.length);
  const sets = flags
    .filter((flag) => flag.startsWith('--set='))
    .map((flag) => flag.slice('--set='.length))
    .map((setting) => ({
      key: setting.split('=')[0]!,
      value: setting.slice(setting.indexOf('=') + 1),
    }));
  return { version, sets };
}

function goModuleCache(): string {
  try {
    return execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  } catch {
    return path.join(process.env.GOPATH ?? path.join(homedir(), 'go'), 'pkg', 'mod');
  }
}

export const chartDir = (version: string) =>
  path.join(goModuleCache(), 'github.com', 'dapr', 'dapr@v' + version, 'charts', 'dapr');

/** Why the chart cannot be rendered here, or undefined when it can. */
export function helmMissing(version: string): string | undefined {
  if (!existsSync(cachedTool('helm')))
    return `no helm at ${cachedTool('helm')} (npm run reference:build builds it)`;
  if (!existsSync(path.join(chartDir(version), 'Chart.yaml'))) {
    return `the dapr module v${version} is not in the Go module cache (npm run reference:build downloads it)`;
  }
  return undefined;
}

const readValues = (file: string) => (parse(readFileSync(file, 'utf8')) ?? {}) as Values;

/** A --set key names a value the chart (or the subchart it starts with) declares. */
export function declared(chart: string, key: string): boolean {
  const [first, ...rest] = key.split('.');
  const subchart = path.join(chart, 'charts', first!, 'values.yaml');
  const [values, keys] =
    first !== 'global' && existsSync(subchart)
      ? [readValues(subchart), rest]
      : [readValues(path.join(chart, 'values.yaml')), [first!, ...rest]];
  let node: unknown = values;
  for (const part of keys) {
    if (typeof node !== 'object' || node === null || !(part in node)) return false;
    node = (node as Values)[part];
  }
  return true;
}

export type K8s = { kind: string; metadata: { name: string }; spec?: any; webhooks?: any[] };

/** `helm template` as the published chart of that version would render (its images tagged so). */
export function renderChart(version: string, sets: { key: string; value: string }[]): K8s[] {
  const output = execFileSync(
    cachedTool('helm'),
    [
      'template',
      'dapr',
      chartDir(version),
      '--namespace',
      'dapr-system',
      `--set=global.tag=${version}`,
      ...sets.map(({ key, value }) => `--set=${key}=${value}`),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return parseAllDocuments(output)
    .map((document) => document.toJS() as K8s | null)
    .filter((object): object is K8s => object !== null);
}

const deployment = (objects: K8s[], name: string) =>
  objects.find((object) => object.kind === 'Deployment' && object.metadata.name === name);
const argsOf = (object: K8s | undefined): string[] =>
  object?.spec?.template?.spec?.containers?.[0]?.args ?? [];

/** What each value the Tiltfile sets must change in the rendered chart; a new value needs a line here. */
export const effects: Record<string, (objects: K8s[], value: string) => boolean> = {
  'global.ha.enabled': (objects, value) =>
    value === 'false' &&
    ['dapr-sidecar-injector', 'dapr-operator', 'dapr-sentry'].every(
      (name) => deployment(objects, name)?.spec?.replicas === 1,
    ),
  'dapr_operator.watchInterval': (objects, value) => {
    const args = argsOf(deployment(objects, 'dapr-operator'));
    return args[args.indexOf('--watch-interval') + 1] === value;
  },
};
