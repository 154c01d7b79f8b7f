import { findDaprd } from './daprd-binary.ts';
import { redisMissing } from './redis.ts';

/** Why the daprd lane cannot run on this machine, or undefined when it can. */
export function daprdLaneMissing(): string | undefined {
  const daprd = findDaprd();
  if ('missing' in daprd) return daprd.missing;
  return redisMissing();
}
