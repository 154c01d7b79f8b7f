/**
 * JSON as daprd reads and writes CloudEvents: decoded with `UseNumber` (numbers keep their exact
 * text, so 2^53+1 survives) and re-encoded by Go's encoding/json, which sorts object keys
 * byte-wise and escapes <, >, &, U+2028 and U+2029 (contrib:pubsub/envelope.go unmarshalPrecise).
 */

/** A JSON number kept as written (Go's json.Number). */
export class JsonNumber {
  readonly literal: string;
  constructor(literal: string) {
    this.literal = literal;
  }
}

/** Parses like `decoder.UseNumber()`; throws SyntaxError on malformed JSON. */
export function parsePrecise(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && context?.source !== undefined
      ? new JsonNumber(context.source)
      : value,
  );
}

/** Encodes like Go's json.Marshal of a decoded `map[string]interface{}` value. */
export function goJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof JsonNumber) return value.literal;
  if (typeof value === 'string') return goString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${goString(key)}:${goJson(item)}`).join(',')}}`;
}

const goEscapes: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
  '\\b': '\\u0008',
  '\\f': '\\u000c',
};

function goString(text: string): string {
  // Escape pairs are matched first, so an escaped backslash followed by "b" stays as it is.
  return JSON.stringify(text).replace(
    /\\.|[<>&\u2028\u2029]/g,
    (match) => goEscapes[match] ?? match,
  );
}

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
