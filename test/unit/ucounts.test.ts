/** Each container's kernel budgets: the command that writes them in its user namespace (the real effect: containers.test.ts). */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { CONTAINER_UCOUNTS, ucountCommand } from '../../src/host/ucounts.js';

describe("a container's kernel budgets", () => {
  it('are written as its root in its user namespace, each a user.* sysctl', () => {
    const cmd = ucountCommand(4242);
    expect(cmd.slice(0, 5)).toEqual(['nsenter', '-t', '4242', '-U', '--']);
    expect(cmd.slice(5, 8)).toEqual(['sysctl', '-q', '-w']);
    expect(cmd.slice(8)).toContain('user.max_inotify_instances=128');
    expect(cmd.slice(8)).toHaveLength(CONTAINER_UCOUNTS.size);
    // Every key is one this kernel has.
    const missing = [...CONTAINER_UCOUNTS.keys()].filter((k) => !existsSync(`/proc/sys/user/${k}`));
    expect(missing).toEqual([]);
  });
});
