import { describe, expect, test } from '@jest/globals';
import {
  checkK3dConfig,
  k3dConfigRules,
  loadK3dConfig,
  type K3dConfig,
} from './k3d-config.checks.ts';

// Each rule holds for k3d-config.yaml, and each is shown to fail on a copy broken on purpose.

const broken: [rule: string, breakIt: (config: K3dConfig) => void][] = [
  ['schema', (config) => (config.agent = config.agents)], // the typo k3d would reject
  ['schema', (config) => (config.ports[0].nodeFilter = ['loadbalancer'])],
  ['schema', (config) => (config.servers = '1')],
  ['schema', (config) => (config.options.k3d.timeout = 'three minutes')],
  ['name', (config) => (config.metadata.name = 'shop')],
  ['agents', (config) => (config.agents = 1)],
  ['pinnedImage', (config) => (config.image = 'rancher/k3s:latest')],
  ['ingressPort', (config) => (config.ports[0].port = '8081:80')],
  ['ingressPort', (config) => (config.ports[0].nodeFilters = ['server:0'])],
  ['registry', (config) => (config.registries.create.hostPort = '5000')],
  ['registry', (config) => delete config.registries],
  [
    'traefikKept',
    (config) =>
      config.options.k3s.extraArgs.push({ arg: '--disable=traefik', nodeFilters: ['server:*'] }),
  ],
  [
    'traefikReplicas',
    (config) =>
      (config.files[0].source = config.files[0].source.replace('replicas: 2', 'replicas: 1')),
  ],
  [
    'traefikReplicas',
    (config) =>
      (config.files[0].source = config.files[0].source.replace('name: traefik', 'name: ingress')),
  ],
  ['traefikReplicas', (config) => (config.files[0].destination = 'k3s-storage/traefik.yaml')],
  ['traefikReplicas', (config) => (config.files[0].nodeFilters = ['all'])],
  ['traefikReplicas', (config) => (config.files = [])],
];

describe('k3d-config.yaml', () => {
  test('holds every rule', () => {
    expect(checkK3dConfig(loadK3dConfig())).toEqual([]);
  });

  test.each(broken)('rule %s fails on a broken copy (#%#)', (rule, breakIt) => {
    const config = loadK3dConfig();

    breakIt(config);

    expect(k3dConfigRules[rule]!(config)).not.toEqual([]);
  });

  test('every rule has a broken copy that makes it fail', () => {
    expect(new Set(broken.map(([rule]) => rule))).toEqual(new Set(Object.keys(k3dConfigRules)));
  });
});
