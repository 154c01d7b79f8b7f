import { BlockList, isIP } from 'node:net';
import type { Context } from 'koa';

/** Loopback: the local ingress (`npm start`) and a sidecar in the same pod. */
export const defaultTrustedProxies = ['127.0.0.0/8', '::1/128'];

/** Parses CIDRs (`10.42.0.0/16`) or single addresses into a matcher of trusted proxies. */
export function trustedProxies(cidrs: string[] = defaultTrustedProxies): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', bits] = cidr.trim().split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (!isIP(address)) throw new Error(`not an IP address or CIDR: ${cidr}`);
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

/**
 * The address of the client that sent a request. `X-Forwarded-For` is believed hop by hop from
 * the right, and only while the hop that wrote it is a trusted proxy: a client talking to the
 * service directly cannot choose the address its rate limits are counted under.
 */
export function clientAddress(ctx: Context, trusted: BlockList): string {
  let address = normalise(ctx.req.socket.remoteAddress ?? '');
  const hops = ctx.get('x-forwarded-for').split(',');
  while (hops.length > 0 && isTrusted(trusted, address)) {
    const hop = normalise(hops.pop()!.trim());
    if (!isIP(hop)) break;
    address = hop;
  }
  return address;
}

/** IPv4 clients of a dual-stack socket appear as `::ffff:1.2.3.4`. */
const normalise = (address: string) => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

function isTrusted(trusted: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
