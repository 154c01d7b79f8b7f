/**
 * Go's encoding/json as daprd writes JSON: `json.Marshal` of a decoded value (state values,
 * CloudEvents) and of a `json.RawMessage`. Decoders stay with the block that needs them.
 */

/** A JSON number kept as written (Go's json.Number, from a decoder with `UseNumber`). */
export class JsonNumber {
  readonly literal: string;
  constructor(literal: string) {
    this.literal = literal;
  }
}

/**
 * Parses like `decoder.UseNumber()`, so 2^53+1 survives a round trip
 * (contrib:pubsub/envelope.go unmarshalPrecise); throws SyntaxError on malformed JSON.
 */
export function parsePrecise(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && context?.source !== undefined
      ? new JsonNumber(context.source)
      : value,
  );
}

/** Go sorts map keys by their UTF-8 bytes, which differs from JS string order past U+FFFF. */
export const compareGoKeys = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * `json.Marshal` of a decoded value: compact, map keys sorted, HTML-unsafe characters escaped,
 * JsonNumbers verbatim. \b and \f stay short escapes as JSON.stringify writes them (Go ≥ 1.22).
 */
export function goMarshal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof JsonNumber) return value.literal;
  if (typeof value === 'string') return escapeHtml(JSON.stringify(value));
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(goMarshal).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => compareGoKeys(a, b));
  return `{${entries.map(([key, item]) => `${goMarshal(key)}:${goMarshal(item)}`).join(',')}}`;
}

/** How Go encodes a `json.RawMessage`: whitespace outside strings dropped, HTML escaped. */
export function goCompact(json: string): string {
  let out = '';
  let inString = false;
  let escaped = false;
  for (const c of json) {
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      out += escapeHtml(c);
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (!' \t\r\n'.includes(c)) out += c;
  }
  return out;
}

/** The characters Go's HTML-safe encoder writes as \u escapes (encoding/json htmlSafeSet). */
const escapeHtml = (text: string) =>
  text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
