import type { IncomingMessage } from 'node:http';
import type { Problem } from './problem.ts';

export interface RequestTarget {
  /** Path and query, dot segments resolved: what is routed and forwarded. */
  path: string;
  pathname: string;
  /** The host the request names: the Host header, or the authority of an absolute-form target. */
  host: string | undefined;
}

/** Why a request cannot be routed at all, as a problem; undefined when it can. */
export function refuseRequest(req: IncomingMessage): Problem | undefined {
  if (req.httpVersionMajor !== 1) {
    return {
      status: 505,
      code: 'http-version-not-supported',
      detail: `HTTP/${req.httpVersion} is not supported; use HTTP/1.1`,
      headers: { connection: 'close' },
    };
  }
  // RFC 9112 §3.2: a request with no Host (HTTP/1.1) or more than one gets 400.
  let hosts = 0;
  for (let index = 0; index < req.rawHeaders.length; index += 2) {
    if (req.rawHeaders[index]!.length === 4 && req.rawHeaders[index]!.toLowerCase() === 'host')
      hosts++;
  }
  if (hosts > 1 || (hosts === 0 && req.httpVersionMinor === 1)) {
    return {
      status: 400,
      code: 'bad-host',
      detail: hosts > 1 ? 'A request carries one Host header' : 'The Host header is missing',
      headers: { connection: 'close' },
    };
  }
  return undefined;
}

/**
 * The origin-form target (`/api/x?y`), or an absolute-form one (`http://host/api/x?y`), which
 * RFC 9112 §3.2.2 requires a server to accept, its authority then replacing Host. Anything else
 * (authority-form, asterisk-form, garbage) is undefined.
 */
export function requestTarget(req: IncomingMessage): RequestTarget | undefined {
  const raw = req.url ?? '';
  try {
    if (raw.startsWith('/')) {
      const url = new URL(`http://ingress${raw}`);
      return { path: url.pathname + url.search, pathname: url.pathname, host: req.headers.host };
    }
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return { path: url.pathname + url.search, pathname: url.pathname, host: url.host };
  } catch {
    return undefined;
  }
}
