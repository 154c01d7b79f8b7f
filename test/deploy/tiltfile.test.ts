import { describe, expect, test } from '@jest/globals';
import { replacedIn } from './mutate.ts';
import { renderOverlay } from './render.ts';
import {
  checkTiltfile,
  python3Missing,
  readTiltfile,
  tiltfileInput,
  tiltfileRules,
} from './tiltfile.checks.ts';

// Tilt itself cannot be built here (its build fails on a checksum mismatch of a dependency), so
// it cannot evaluate the Tiltfile; python3 runs it with stubbed Tilt built-ins instead. Each rule
// holds for tilt/Tiltfile and is shown to fail on a copy broken on purpose.

const missing = python3Missing();
if (missing) console.warn(`Tiltfile checks skipped: ${missing}`);
const describeWithPython = missing ? describe.skip : describe;

/** The Tiltfile with one text replaced; the replacement must change something. */
const replaced = (from: string | RegExp, to: string) =>
  replacedIn(readTiltfile(), from, to, 'the Tiltfile');

const broken: [rule: string, text: () => string][] = [
  ['starlark', () => replaced("CONTEXT = 'k3d-sidecart'", 'CONTEXT = f\'k3d-{"sidecart"}\'')],
  ['starlark', () => replaced('NAMESPACE = ', 'class Settings:\n    pass\nNAMESPACE = ')],
  ['starlark', () => replaced('NAMESPACE = ', 'import os\nNAMESPACE = ')],
  ['starlark', () => replaced("k8s_resource('redis'", "k8s_resorce('redis'")],
  [
    'evaluates',
    () =>
      replaced(
        'for svc in SERVICES:\n    docker_build(',
        'for svc in SERVICES + 1:\n    docker_build(',
      ),
  ],
  ['contextGuard', () => replaced(/^if k8s_context\(\) != CONTEXT:\n.*\n/m, '')],
  ['images', () => replaced("'sidecart/' + svc,", "'shop/' + svc,")],
  ['dockerBuild', () => replaced("target='dev'", "target='develop'")],
  ['dockerBuild', () => replaced("'/app/services/%s/src' % svc", "'/srv/services/%s/src' % svc")],
  [
    'dockerBuild',
    () => replaced("sync('../services/%s/src' % svc", "sync('../service/%s/src' % svc"),
  ],
  [
    'dockerBuild',
    () => replaced("'packages/contracts', 'services/' + svc]", "'packages/contracts']"),
  ],
  ['resources', () => replaced("k8s_resource(svc + '-migrate'", "k8s_resource(svc + '-migration'")],
  ['resources', () => replaced("        'sidecart:resiliency',\n", '')],
  [
    'resources',
    () => replaced("resource_deps=['postgres'], labels", "resource_deps=['postgress'], labels"),
  ],
  [
    'order',
    () =>
      replaced(
        "resource_deps=['dapr', 'dapr-resources', 'postgres', 'redis', svc + '-migrate']",
        "resource_deps=['postgres', 'redis', svc + '-migrate']",
      ),
  ],
  [
    'order',
    () => replaced(", svc + '-migrate'],\n        port_forwards", '],\n        port_forwards'),
  ],
  ['daprChart', () => replaced("'--version=' + DAPR_VERSION,\n", '')],
  [
    'daprChart',
    () => replaced("'https://dapr.github.io/helm-charts/'", "'https://charts.example.com/'"),
  ],
  [
    'readOnlyLift',
    () => replaced("['readOnlyRootFilesystem'] = False", "['runAsNonRoot'] = False"),
  ],
  [
    'readOnlyLift',
    () =>
      replaced(
        'k8s_yaml(encode_yaml_stream(objects))',
        'k8s_yaml(encode_yaml_stream(objects[1:]))',
      ),
  ],
  ['chaos', () => replaced('    trigger_mode=TRIGGER_MODE_MANUAL,\n', '')],
  [
    'chaos',
    () =>
      replaced("cmd='npm run test:chaos',\n    dir='..'", "cmd='npm run test:chaos',\n    dir='.'"),
  ],
  ['portForwards', () => replaced("'15432:5432'", "'8080:5432'")],
];

describeWithPython('tilt/Tiltfile', () => {
  const overlay = renderOverlay('k3d');

  test('holds every rule', () => {
    expect(checkTiltfile(tiltfileInput(readTiltfile(), overlay))).toEqual([]);
  });

  test.each(broken)('rule %s fails on a broken copy (#%#)', (rule, text) => {
    const problems = checkTiltfile(tiltfileInput(text(), overlay));

    expect(problems.filter((problem) => problem.startsWith(`${rule}:`))).not.toEqual([]);
  });

  test('every rule has a broken copy that makes it fail', () => {
    expect(new Set(broken.map(([rule]) => rule))).toEqual(new Set(Object.keys(tiltfileRules)));
  });
});
