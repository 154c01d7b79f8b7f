/**
 * Just enough of Go's encoding/json decoder for daprd's state API: typed request structs with
 * Go's error messages (docs/dapr-behaviour.md §3.3). Encoding is in ../go-json.ts.
 */

export type GoType =
  | { kind: 'string' | 'int' | 'any' | 'stringMap' }
  | { kind: 'slice'; name: string; elem: GoType }
  | { kind: 'struct'; name: string; fields: Record<string, GoType> };

export const goString: GoType = { kind: 'string' };
export const goInt: GoType = { kind: 'int' };
export const goAny: GoType = { kind: 'any' };
export const goStringMap: GoType = { kind: 'stringMap' };

export type Decoded<T> = { value: T; error?: undefined } | { error: string };

/**
 * `json.NewDecoder(body).Decode(&v)`: the first JSON value, or Go's error text. A value that runs
 * past the end of a `truncated` body hits daprd's body cap instead of the end of input.
 */
export function decodeGoJson<T>(body: Buffer, type: GoType, truncated = false): Decoded<T> {
  const parsed = parseFirstValue(body.toString('utf8'));
  if ('error' in parsed) {
    return truncated && /^(unexpected )?EOF$/.test(parsed.error)
      ? { error: 'stream too large' }
      : parsed;
  }
  const context: Context = { path: [] };
  const value = decodeValue(parsed.value, type, context);
  return context.error ? { error: context.error } : { value: value as T };
}

/**
 * Go reports syntax errors with different wording; this is close, not exact. A decoder reads one
 * value and ignores what follows it, so trailing text is dropped rather than refused.
 */
function parseFirstValue(text: string): { value: unknown } | { error: string } {
  if (text.trim() === '') return { error: 'EOF' };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    const message = (error as Error).message;
    const trailing = /non-whitespace character after JSON at position (\d+)/.exec(message);
    if (trailing) return parseFirstValue(text.slice(0, Number(trailing[1])));
    if (/end of JSON input|Unterminated/.test(message)) return { error: 'unexpected EOF' };
    const at = /position (\d+)/.exec(message);
    const character = at ? text[Number(at[1])] : text.trim()[0];
    return { error: `invalid character '${character}' looking for beginning of value` };
  }
}

interface Context {
  error?: string;
  /** The innermost struct's name and the JSON field names from the outermost struct. */
  struct?: string;
  path: string[];
}

const typeName = (type: GoType): string =>
  type.kind === 'stringMap'
    ? 'map[string]string'
    : type.kind === 'any'
      ? 'interface {}'
      : 'name' in type
        ? type.name
        : type.kind;

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : typeof value;
}

function mismatch(context: Context, value: unknown, type: GoType, detail = describe(value)): void {
  const target = context.struct
    ? `Go struct field ${context.struct}.${context.path.join('.')}`
    : 'Go value';
  context.error ??= `json: cannot unmarshal ${detail} into ${target} of type ${typeName(type)}`;
}

function decodeValue(value: unknown, type: GoType, context: Context): unknown {
  if (value === null || type.kind === 'any') return value ?? undefined;
  switch (type.kind) {
    case 'string':
      return typeof value === 'string' ? value : mismatch(context, value, type);
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      return mismatch(
        context,
        value,
        type,
        typeof value === 'number' ? `number ${value}` : undefined,
      );
    case 'stringMap':
      return decodeMap(value, type, context);
    case 'slice':
      if (!Array.isArray(value)) return mismatch(context, value, type);
      return value.map((item) => decodeValue(item, type.elem, context));
    case 'struct':
      return decodeStruct(value, type, context);
  }
}

function decodeMap(value: unknown, type: GoType, context: Context) {
  if (describe(value) !== 'object') return mismatch(context, value, type);
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value as object)) {
    if (typeof item === 'string') result[key] = item;
    else if (item !== null) mismatch(context, item, goString);
  }
  return result;
}

/** Fields match exactly first, then case-insensitively, as Go does. */
function decodeStruct(value: unknown, type: GoType & { kind: 'struct' }, context: Context) {
  if (describe(value) !== 'object') return mismatch(context, value, type);
  const result: Record<string, unknown> = {};
  const names = Object.keys(type.fields);
  for (const [key, item] of Object.entries(value as object)) {
    const field =
      names.find((name) => name === key) ??
      names.find((name) => name.toLowerCase() === key.toLowerCase());
    if (!field) continue;
    const saved = { struct: context.struct, path: context.path };
    context.struct = type.name.replace(/^.*\./, '');
    context.path = [...context.path, field];
    result[field] = decodeValue(item, type.fields[field]!, context);
    Object.assign(context, saved);
  }
  return result;
}
