import { describe, expect, test } from '@jest/globals';
import { daprdVersion } from '@sidecart/dev/reference-daprd';
import {
  chartDir,
  daprInstall,
  declared,
  effects,
  helmMissing,
  renderChart,
} from './dapr-chart.checks.ts';
import { renderOverlay } from './render.ts';
import { evaluateTiltfile, python3Missing, readTiltfile } from './tiltfile.checks.ts';

// Skipped, saying why, where Helm or the chart is not built/downloaded (like the daprd lanes).

const pythonMissing = python3Missing();
const install = pythonMissing
  ? undefined
  : daprInstall(evaluateTiltfile(readTiltfile(), renderOverlay('k3d')));
const missing = pythonMissing ?? helmMissing(install?.version ?? daprdVersion);
if (missing) console.warn(`Dapr chart checks skipped: ${missing}`);
const describeWithHelm = missing ? describe.skip : describe;

describe('the Dapr chart version in tilt/Tiltfile', () => {
  (pythonMissing ? test.skip : test)('is the daprd the project tests against', () => {
    expect(install?.version).toBe(daprdVersion);
  });
});

describeWithHelm('the Dapr chart as tilt/Tiltfile installs it', () => {
  const { version, sets } = install!;

  test('every value it sets is one the chart declares', () => {
    expect(sets.filter(({ key }) => !declared(chartDir(version!), key))).toEqual([]);
    expect(sets.length).toBeGreaterThan(0);
  });

  test('renders, with each value taking the effect it is set for', () => {
    const objects = renderChart(version!, sets);

    expect(objects.some((o) => o.kind === 'MutatingWebhookConfiguration')).toBe(true);
    expect(
      sets.map(({ key, value }) => [key, effects[key]?.(objects, value) ?? 'no effect listed']),
    ).toEqual(sets.map(({ key }) => [key, true]));
  });

  test('the injector fails open, which is why every app resource waits for it', () => {
    const webhook = renderChart(version!, sets).find(
      (o) => o.kind === 'MutatingWebhookConfiguration',
    );

    expect(webhook?.webhooks?.map((hook) => hook.failurePolicy)).toEqual(['Ignore']);
  });

  test('the checks fail on a value the chart lacks, and on a value without its effect', () => {
    const typo = { key: 'global.ha.enable', value: 'false' };
    const haOn = sets.map((set) =>
      set.key === 'global.ha.enabled' ? { ...set, value: 'true' } : set,
    );

    expect(declared(chartDir(version!), typo.key)).toBe(false);
    expect(declared(chartDir(version!), 'dapr_operator.watchIntervall')).toBe(false);
    expect(effects['global.ha.enabled']!(renderChart(version!, haOn), 'true')).toBe(false);
    expect(effects['dapr_operator.watchInterval']!(renderChart(version!, sets), '45s')).toBe(false);
  });
});
