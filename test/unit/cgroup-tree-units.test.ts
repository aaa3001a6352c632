/** The one walker of a unit's cgroup subtree (direct manager and supervisors): every pid below, and removal deepest first. */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupTreePids, removeCgroupTree } from '../../src/host/units/cgroup-tree.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-cgroup-tree-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('a cgroup subtree (directories standing in for cgroupfs)', () => {
  it('holds the pids of the cgroup and of every cgroup below it', () => {
    const unit = join(base, 'pids/pcloud/unit.abc');
    mkdirSync(join(unit, 'payload/init.scope'), { recursive: true });
    writeFileSync(join(unit, 'cgroup.procs'), '10\n11\n');
    writeFileSync(join(unit, 'payload/cgroup.procs'), '');
    writeFileSync(join(unit, 'payload/init.scope/cgroup.procs'), '12\n');
    expect([...cgroupTreePids(unit)].sort()).toEqual([10, 11, 12]);
    const into = new Set([1]);
    expect(cgroupTreePids(unit, into)).toBe(into);
    expect([...into].sort()).toEqual([1, 10, 11, 12]);
    expect(cgroupTreePids(join(base, 'missing')).size).toBe(0);
  });

  it('is removed deepest first, and a missing one counts as removed', () => {
    const unit = join(base, 'rm/pcloud/unit.abc');
    mkdirSync(join(unit, 'payload/init.scope'), { recursive: true });
    expect(removeCgroupTree(unit)).toBe(true);
    expect(existsSync(unit)).toBe(false);
    expect(removeCgroupTree(unit)).toBe(true);
    // A cgroup that cannot go (here: a file in it, as a process would hold a real one) is said so.
    mkdirSync(join(unit, 'payload'), { recursive: true });
    writeFileSync(join(unit, 'payload/cgroup.procs'), '12\n');
    expect(removeCgroupTree(unit)).toBe(false);
  });
});
