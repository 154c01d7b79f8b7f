import { randomFillSync } from 'node:crypto';

// Trace and span ids come from a pool of random bytes refilled 4 KiB at a time (as randomUUID
// does): a call into the CSPRNG per id cost more than all the rest of a cached product read, and
// the dev sidecar makes a traceparent for every invocation that arrives without one. A subpath of
// its own (`@sidecart/chassis/trace-ids`), so the dev sidecar loads nothing else of the chassis.
const pool = Buffer.alloc(4096);
let used = pool.length;

/** `bytes` random bytes as lowercase hex (16 for a W3C trace id, 8 for a parent id). */
export function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}
