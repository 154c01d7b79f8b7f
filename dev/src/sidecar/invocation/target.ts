import type { IncomingHttpHeaders } from 'node:http';
import { posix } from 'node:path';
import { DirectInvokeError } from './failures.ts';

export interface Target {
  /** The id as the caller wrote it (error messages quote it). */
  id: string;
  appId: string;
  namespace: string;
  /**
   * Decoded like Go's `r.URL.Path` and cleaned, one char per byte (latin1) so any byte survives;
   * without the leading slash. The app is called at `appPath(method)`.
   */
  method: string;
}

const invokePrefix = '/v1.0/invoke/';

/**
 * The target app id and method, from the three request forms in daprd's order (docs/dapr-behaviour.md §2.1,
 * findTargetIDAndMethod); undefined when the request names no app. Removes `dapr-app-id`.
 */
export function findTarget(
  path: string,
  headers: IncomingHttpHeaders,
): { id: string; method: string } | undefined {
  const header = headers['dapr-app-id'];
  if (typeof header === 'string' && header !== '') {
    delete headers['dapr-app-id'];
    return { id: header, method: path.slice(1) };
  }
  const authorization = headers.authorization;
  if (authorization?.startsWith('Basic ')) {
    const pair = Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':');
    if (pair.length === 2 && pair[0]!.toLowerCase() === 'dapr-app-id') {
      return pair[1] ? { id: pair[1], method: path.slice(1) } : undefined;
    }
  }
  if (!path.startsWith(invokePrefix)) return undefined;
  const rest = path.slice(invokePrefix.length);
  const at = rest.indexOf('/method/');
  if (at <= 0) return undefined;
  return { id: queryUnescape(rest.slice(0, at)), method: rest.slice(at + '/method/'.length) };
}

/**
 * `app` or `app.namespace` (docs/dapr-behaviour.md §2.1); the raw method decoded, checked and
 * cleaned. daprd checks the method first (directMessaging.Invoke), then the id.
 */
export function parseTarget(id: string, rawMethod: string, ownNamespace: string): Target {
  const method = normalizeMethod(pathUnescape(rawMethod));
  const parts = id.split('.');
  if (parts.length > 2) throw new DirectInvokeError(500, `invalid app id ${id}`);
  return { id, appId: parts[0]!, namespace: parts[1] ?? ownNamespace, method };
}

/** daprd refuses a method with gRPC InvalidArgument, on the caller and (in defence) the callee. */
export class InvalidMethodError extends DirectInvokeError {
  readonly description: string;

  constructor(description: string) {
    super(500, `rpc error: code = InvalidArgument desc = ${description}`);
    this.description = description;
  }
}

/**
 * daprd's method/normalize.go on a decoded method: `#`, `?`, NUL and control characters are
 * refused, then path.Clean without leading `../`.
 */
export function normalizeMethod(method: string): string {
  const problem = /[#?\0]/.exec(method)
    ? 'forbidden character'
    : // eslint-disable-next-line no-control-regex -- control characters are what daprd refuses
      /[\x01-\x1f\x7f]/.exec(method)?.index;
  if (problem !== undefined) {
    const what = typeof problem === 'string' ? problem : `control character at position ${problem}`;
    throw new InvalidMethodError(`invalid method: method contains ${what}: ${goQuote(method)}`);
  }
  let cleaned = posix.normalize(method);
  if (cleaned.length > 1 && cleaned.endsWith('/')) cleaned = cleaned.slice(0, -1);
  while (cleaned.startsWith('../')) cleaned = cleaned.slice(3);
  return cleaned === '.' || cleaned === '..' ? '' : cleaned;
}

/** Go's path unescaping (`r.URL.Path`): `%XX` to its byte, `+` kept; bytes as latin1 chars. */
export function pathUnescape(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) =>
    String.fromCharCode(parseInt(hex, 16)),
  );
}

/** The method for the sidecar-to-sidecar hop: every byte but unreserved ones escaped, so the
 * callee's pathUnescape gives back exactly the caller's method. */
export function hopPath(method: string): string {
  return '/' + method.replace(/[^A-Za-z0-9\-_.~/]/g, percentEncode);
}

/**
 * The path daprd's app channel sends for a method: Go parses `<base>/<method>` as a URL and
 * writes its EscapedPath, the text as it is when it is validly escaped already, else every byte
 * outside `A-Za-z0-9-_.~$&+,/:;=@` escaped (net/url validEncoded, escape). So `x%2Fy` reaches
 * the app as `/x/y`, `a b` as `/a%20b`.
 */
export function appPath(method: string): string {
  const path = '/' + method;
  const validlyEscaped =
    /^[A-Za-z0-9\-_.~$&+,/:;=@!'()*[\]%]*$/.test(path) && !/%(?![0-9a-fA-F]{2})/.test(path);
  if (validlyEscaped) return path;
  // A text with a malformed escape fails Go's url.Parse; escaping the % keeps it a path.
  return pathUnescape(path).replace(/[^A-Za-z0-9\-_.~$&+,/:;=@]/g, percentEncode);
}

const percentEncode = (char: string) =>
  '%' + char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');

/** Go's %q for the error text: the bytes read as UTF-8, control characters as `\xNN`, `\a`, `\v`. */
function goQuote(latin1: string): string {
  const short: Record<string, string> = { '07': '\\a', '0b': '\\v' };
  return JSON.stringify(Buffer.from(latin1, 'latin1').toString('utf8'))
    .replace(/\\u00([01][0-9a-f])/g, (_, hex: string) => short[hex] ?? `\\x${hex}`)
    .replaceAll('\x7f', '\\x7f');
}

/** Go's url.QueryUnescape, falling back to the raw text like daprd when it fails. */
function queryUnescape(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' ')) || text;
  } catch {
    return text;
  }
}
