import { compareGoKeys } from '../go-json.ts';
import { goAny, goInt, goString, goStringMap, type GoType } from './go-decoder.ts';

/** The state request shapes of components-contrib (`state.SetRequest`, `state.DeleteRequest`). */
export interface StateOptions {
  concurrency?: string;
  consistency?: string;
}

export interface SetRequest {
  key: string;
  value: unknown;
  etag?: string;
  metadata: Record<string, string>;
  options: StateOptions;
}

export type DeleteRequest = Omit<SetRequest, 'value'>;

export type Operation =
  { operation: 'upsert'; request: SetRequest } | { operation: 'delete'; request: DeleteRequest };

const options = (name: string): GoType => ({
  kind: 'struct',
  name,
  fields: { concurrency: goString, consistency: goString },
});

/** Body of POST /v1.0/state/{store}. */
export const saveBody: GoType = {
  kind: 'slice',
  name: '[]state.SetRequest',
  elem: {
    kind: 'struct',
    name: 'state.SetRequest',
    fields: {
      key: goString,
      value: goAny,
      etag: goString,
      metadata: goStringMap,
      options: options('state.SetStateOption'),
    },
  },
};

/** Body of POST /v1.0/state/{store}/bulk. */
export const bulkGetBody: GoType = {
  kind: 'struct',
  name: 'http.BulkGetRequest',
  fields: {
    metadata: goStringMap,
    keys: { kind: 'slice', name: '[]string', elem: goString },
    parallelism: goInt,
  },
};

/** Body of POST /v1.0/state/{store}/transaction. */
export const transactionBody: GoType = {
  kind: 'struct',
  name: 'http.stateTransactionRequestBody',
  fields: {
    operations: {
      kind: 'slice',
      name: '[]http.stateTransactionRequestBodyOperation',
      elem: {
        kind: 'struct',
        name: 'http.stateTransactionRequestBodyOperation',
        fields: { operation: goString, request: goAny },
      },
    },
    metadata: goStringMap,
  },
};

export interface DecodedSetRequest {
  key?: string;
  value?: unknown;
  etag?: string;
  metadata?: Record<string, string>;
  options?: StateOptions;
}

/** A decoded item with Go's zero values filled in. */
export const toSetRequest = (item: DecodedSetRequest | undefined): SetRequest => ({
  key: item?.key ?? '',
  value: item?.value,
  etag: item?.etag,
  metadata: item?.metadata ?? {},
  options: item?.options ?? {},
});

/**
 * A transaction operation's `request`, decoded by daprd with mapstructure (not encoding/json), so
 * its errors read differently: `1 error(s) decoding:\n\n* 'Metadata[ttlInSeconds]' expected type
 * 'string', got unconvertible type 'float64', value: '60'` (docs/dapr-behaviour.md §3.8).
 */
export function decodeOperationRequest(raw: unknown): { request: SetRequest } | { error: string } {
  const request = toSetRequest(undefined);
  if (raw === null || raw === undefined) return { request };
  if (goKind(raw) !== 'map') return { error: `'' expected a map, got '${goKind(raw)}'` };
  const errors: string[] = [];
  const fields = raw as Record<string, unknown>;
  const key = readString(fields, 'Key', errors);
  const etag = readString(fields, 'ETag', errors);
  const metadata = readStringMap(field(fields, 'Metadata'), 'Metadata', errors);
  const rawOptions = field(fields, 'Options');
  const options: StateOptions = {};
  if (rawOptions !== undefined && rawOptions !== null) {
    if (goKind(rawOptions) !== 'map') {
      errors.push(`'Options' expected a map, got '${goKind(rawOptions)}'`);
    } else {
      const optionFields = rawOptions as Record<string, unknown>;
      options.concurrency = readString(optionFields, 'Concurrency', errors, 'Options.');
      options.consistency = readString(optionFields, 'Consistency', errors, 'Options.');
    }
  }
  if (errors.length > 0) {
    const points = errors.map((error) => `* ${error}`).sort();
    return { error: `${errors.length} error(s) decoding:\n\n${points.join('\n')}` };
  }
  const value = field(fields, 'Value');
  return { request: { key: key ?? '', value, etag, metadata: metadata ?? {}, options } };
}

/** mapstructure matches a field name exactly, then case-insensitively. */
function field(fields: Record<string, unknown>, name: string): unknown {
  if (name in fields) return fields[name];
  const key = Object.keys(fields).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : fields[key];
}

function readString(
  fields: Record<string, unknown>,
  name: string,
  errors: string[],
  prefix = '',
): string | undefined {
  const value = field(fields, name);
  if (value === undefined || value === null || typeof value === 'string') return value ?? undefined;
  errors.push(unconvertible(prefix + name, value));
  return undefined;
}

function readStringMap(value: unknown, name: string, errors: string[]) {
  if (value === undefined || value === null) return undefined;
  if (goKind(value) !== 'map') {
    errors.push(`'${name}' expected a map, got '${goKind(value)}'`);
    return undefined;
  }
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value as object)) {
    if (typeof item === 'string') result[key] = item;
    else if (item !== null) errors.push(unconvertible(`${name}[${key}]`, item));
  }
  return result;
}

const unconvertible = (name: string, value: unknown) =>
  `'${name}' expected type 'string', got unconvertible type '${goTypeOf(value)}', value: '${goFormat(value)}'`;

/** reflect.Kind names of what encoding/json decodes into an `any`. */
function goKind(value: unknown): string {
  if (Array.isArray(value)) return 'slice';
  if (typeof value === 'number') return 'float64';
  return typeof value === 'object' ? 'map' : typeof value === 'boolean' ? 'bool' : 'string';
}

function goTypeOf(value: unknown): string {
  const kind = goKind(value);
  return kind === 'map' ? 'map[string]interface {}' : kind === 'slice' ? '[]interface {}' : kind;
}

/** Go's `%v`: floats as `%g` in shortest form, so an exponent below 1e-4 and from 1e6 on. */
function goFormat(value: unknown): string {
  if (typeof value === 'number') {
    const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
    const power = Number(exponent);
    if (value === 0 || (power >= -4 && power < 6)) return String(value);
    return `${mantissa}e${power < 0 ? '-' : '+'}${String(Math.abs(power)).padStart(2, '0')}`;
  }
  if (Array.isArray(value)) return `[${value.map(goFormat).join(' ')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => compareGoKeys(a, b));
    return `map[${entries.map(([k, v]) => `${k}:${goFormat(v)}`).join(' ')}]`;
  }
  return String(value);
}
