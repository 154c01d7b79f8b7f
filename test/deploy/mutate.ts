import { describe, expect, test } from '@jest/globals';
import { type K8sObject, overlays, renderOverlay } from './render.ts';

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

/**
 * `text` with `from` replaced by `to`, for a fixture broken by editing a file's text; throws when
 * nothing changed (`where` names the file), so a fixture cannot silently stop breaking anything.
 */
export function replacedIn(text: string, from: string | RegExp, to: string, where: string): string {
  const changed = text.replace(from, to);
  if (changed === text) throw new Error(`${String(from)} is not in ${where}`);
  return changed;
}

/** `breakOne` on a Deployment's pod annotation: `key` set to `value`, or removed (undefined). */
export const breakAnnotation = (
  objects: K8sObject[],
  deployment: string,
  key: string,
  value: unknown,
): K8sObject[] =>
  breakOne(objects, 'Deployment', deployment, (d) => {
    const annotations = d.spec.template.metadata.annotations;
    if (value === undefined) delete annotations[key];
    else annotations[key] = value;
  });

/** The app container's spec inside a Deployment. */
export const app = (deployment: Record<string, any>) => deployment.spec.template.spec.containers[0];

export interface Rule {
  name: string;
  check(objects: K8sObject[]): string[];
}

/** A broken fixture: the rule (a prefix of its name), the broken objects, the one violation. */
export type BrokenCase = [rule: string, broken: () => K8sObject[], expected: string];

/** Every rule passes on every overlay, and reports exactly the break of each broken fixture. */
export function describeRules(title: string, rules: Rule[], cases: BrokenCase[]): void {
  const rule = (name: string) => {
    const found = rules.find((r) => r.name.startsWith(name));
    if (!found) throw new Error(`no rule ${name}`);
    return found;
  };
  describe(title, () => {
    describe.each(overlays)('%s', (overlay) => {
      test.each(rules.map((r) => [r.name, r] as const))('%s', (_, r) => {
        expect(r.check(renderOverlay(overlay))).toEqual([]);
      });
    });

    describe('broken fixtures: each rule reports exactly the break', () => {
      test.each(cases)('%s: %s', (name, broken, expected) => {
        expect(rule(name).check(broken())).toEqual([expected]);
      });
    });
  });
}
