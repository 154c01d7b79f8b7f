import type { IncomingHttpHeaders } from 'node:http';
import { posix } from 'node:path';
import { DirectInvokeError } from './failures.ts';

export interface Target {
  /** The id as the caller wrote it (error messages quote it). */
  id: string;
  appId: string;
  namespace: string;
  /** Without the leading slash; the app is called at `/<method>`. */
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

/** `app` or `app.namespace` (docs/dapr-behaviour.md §2.1); the method checked and cleaned. */
export function parseTarget(id: string, method: string, ownNamespace: string): Target {
  const parts = id.split('.');
  if (parts.length > 2) throw new DirectInvokeError(500, `invalid app id ${id}`);
  return {
    id,
    appId: parts[0]!,
    namespace: parts[1] ?? ownNamespace,
    method: normalizeMethod(method),
  };
}

/**
 * daprd's method/normalize.go: `#`, `?`, NUL and control characters are refused (checked after
 * percent-decoding, which is how they could arrive), then path.Clean without leading `../`.
 * The method itself is forwarded still escaped, as the caller sent it.
 */
export function normalizeMethod(method: string): string {
  const decoded = safeDecode(method);
  const forbidden = forbiddenIn(decoded);
  if (forbidden) {
    throw new DirectInvokeError(500, `method contains ${forbidden}: ${JSON.stringify(decoded)}`);
  }
  let cleaned = posix.normalize(method);
  if (cleaned.length > 1 && cleaned.endsWith('/')) cleaned = cleaned.slice(0, -1);
  while (cleaned.startsWith('../')) cleaned = cleaned.slice(3);
  return cleaned === '.' || cleaned === '..' ? '' : cleaned;
}

function forbiddenIn(text: string): string | undefined {
  if (/[#?\0]/.test(text)) return 'forbidden character';
  // eslint-disable-next-line no-control-regex -- control characters are what daprd refuses
  if (/[\x01-\x1f\x7f]/.test(text)) return 'control character';
  return undefined;
}

/** Go's url.QueryUnescape, falling back to the raw text like daprd when it fails. */
function queryUnescape(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' ')) || text;
  } catch {
    return text;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
