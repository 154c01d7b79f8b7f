/**
 * Go struct decoding for the pub/sub requests daprd reads into typed structs (bulk publish
 * entries, subscriptions): fields matched case-insensitively, wrong types refused.
 */

/** A struct field as Go decodes it: the exact key, else one equal ignoring case. */
export function structField(value: unknown, name: string): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`expected a JSON object around "${name}"`);
  }
  const object = value as Record<string, unknown>;
  if (name in object) return object[name];
  const key = Object.keys(object).find(
    (candidate) => candidate.toLowerCase() === name.toLowerCase(),
  );
  return key === undefined ? undefined : object[key];
}

/** A string field; null or absent = "" (Go's zero value); any other type throws. */
export function structString(value: unknown, name: string): string {
  const found = structField(value, name);
  if (found === undefined || found === null) return '';
  if (typeof found !== 'string') throw new TypeError(`"${name}" is not a string`);
  return found;
}

/** A `map[string]string` field; null or absent = {}; a non-string value throws. */
export function structStringMap(value: unknown, name: string): Record<string, string> {
  const found = structField(value, name);
  if (found === undefined || found === null) return {};
  if (typeof found !== 'object' || Array.isArray(found)) {
    throw new TypeError(`"${name}" is not an object of strings`);
  }
  for (const item of Object.values(found)) {
    if (typeof item !== 'string') throw new TypeError(`"${name}" values must be strings`);
  }
  return found as Record<string, string>;
}
