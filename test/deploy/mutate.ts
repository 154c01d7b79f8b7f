import type { K8sObject } from './render.ts';

/** A deep copy of the objects with one of them changed: the broken fixture of a rule's test. */
export function breakOne(
  objects: K8sObject[],
  kind: string,
  name: string,
  change: (object: Record<string, any>) => void,
): K8sObject[] {
  const copy = structuredClone(objects);
  const target = copy.find((object) => object.kind === kind && object.metadata.name === name);
  if (!target) throw new Error(`no ${kind}/${name} to break`);
  change(target);
  return copy;
}

/** The app container's spec inside a Deployment. */
export const app = (deployment: Record<string, any>) => deployment.spec.template.spec.containers[0];
