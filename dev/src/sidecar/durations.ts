const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const goDuration = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const component = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/**
 * A Go duration ("500ms", "1m30s", "1.5h", "0") in milliseconds. A bare integer counts as
 * milliseconds, as dapr/kit's config decoder and the resiliency timeout parser read it.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^[-+]?\d+$/.test(trimmed)) return Number(trimmed);
  if (!goDuration.test(trimmed)) throw new Error(`invalid duration "${text}"`);
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(component)) {
    total += Number(amount) * unitMs[unit!]!;
  }
  return trimmed.startsWith('-') ? -total : total;
}
