import { spawn } from 'node:child_process';
import {
  childPids,
  formatMebibytes,
  proportionalBytes,
  residentBytes,
} from '../src/stack/memory.ts';

describe('process memory figures', () => {
  test('reads a live process and its children, and nothing for a pid that is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    await new Promise((resolve) => child.once('spawn', resolve));

    const rss = residentBytes(process.pid)!;
    const pss = proportionalBytes(process.pid)!;
    const children = childPids(process.pid);
    child.kill();
    await new Promise((resolve) => child.once('exit', resolve));

    expect(rss).toBeGreaterThan(20 * 1024 * 1024);
    expect(pss).toBeGreaterThan(0);
    expect(pss).toBeLessThanOrEqual(rss);
    expect(children).toContain(child.pid);
    expect(residentBytes(child.pid!)).toBeUndefined();
    expect(formatMebibytes(rss)).toMatch(/^\d+ MiB$/);
    expect(formatMebibytes(undefined)).toBe('-');
  });
});
