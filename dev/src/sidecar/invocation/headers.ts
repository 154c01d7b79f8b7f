import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import os from 'node:os';
import { randomHex } from '@sidecart/chassis/trace-ids';

// RFC 9110 §7.6.1 plus the ones daprd also drops (docs/dapr-behaviour.md §2.2).
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Headers that travel on to the next hop: all but hop-by-hop ones, those `Connection` names and
 * Host (each hop names its own). Content-Length stays: the body passes through unchanged.
 */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = headers.connection?.toLowerCase().split(',');
  const kept: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (hopByHop.has(name) || name === 'host') continue;
    if (named?.some((entry) => entry.trim() === name)) continue;
    kept[name] = headers[name];
  }
  return kept;
}

export interface CallerIdentity {
  appId: string;
  namespace?: string;
  /** Configuration `tracing.samplingRate` (daprd's default 0.0001): the flag of new traceparents. */
  samplingRate: number;
}

/**
 * What the caller sidecar adds, overwriting caller-supplied copies (docs/dapr-behaviour.md §2.2,
 * direct_messaging.go addForwardedHeadersToMetadata / addCallerAndCalleeAppIDHeaderToMetadata).
 */
export function identityHeaders(identity: CallerIdentity) {
  const address = hostAddress();
  const hostName = os.hostname();
  const forwarded = `for=${address};by=${address};host=${hostName}`;
  return (headers: OutgoingHttpHeaders, calleeAppId: string): OutgoingHttpHeaders => {
    headers['dapr-caller-app-id'] = identity.appId;
    if (identity.namespace) headers['dapr-caller-namespace'] = identity.namespace;
    headers['dapr-callee-app-id'] = calleeAppId;
    headers['x-forwarded-for'] = address;
    headers['x-forwarded-host'] = hostName;
    headers.forwarded = forwarded;
    headers.traceparent ??= newTraceparent(identity.samplingRate);
    return headers;
  };
}

export function newTraceparent(samplingRate: number): string {
  const flags = Math.random() < samplingRate ? '01' : '00';
  return `00-${randomHex(16)}-${randomHex(8)}-${flags}`;
}

/** daprd's utils.GetHostAddress: the machine's outward IPv4 address, else loopback. */
function hostAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    const external = addresses?.find((entry) => entry.family === 'IPv4' && !entry.internal);
    if (external) return external.address;
  }
  return '127.0.0.1';
}
