/**
 * Reading a unit's cgroup (src/host/cgroups.ts) from fixture trees of each layout (test/fixtures/cgroups: cgroup v2, a
 * hybrid host's unified and memory hierarchies, v1's cpuacct), where each manager's unit cgroup is, and CPU% from two
 * readings.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { CgroupReader, cpuPercent, parseFlatKeyed, parseSingle, systemdEscape, unitCgroupPath, unitCgroups, type CgroupUsage } from '../../src/host/cgroups.js';
import { unitCgroup } from '../../src/host/units/proc.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/cgroups');
/** The fixtures' unit: a service of its own (an instance's sits in its template's slice: its path is asserted on its own). */
const UNIT = 'pcloud-nginx';
const INSTANCE = 'pcloud-instance@i-0123456789abcdef0';
const systemd = (layout: string) => unitCgroups({ kind: 'systemd' }, '/unused', join(FIXTURES, layout));

describe('cgroup files', () => {
  it('parses flat-keyed files, and single values with max as no number', () => {
    const stat = parseFlatKeyed('usage_usec 2500000\nuser_usec 2000000\n\nbroken line here\nsystem_usec x\n');
    expect(stat.get('usage_usec')).toBe(2_500_000);
    expect(stat.get('user_usec')).toBe(2_000_000);
    expect(stat.has('system_usec')).toBe(false);
    expect(stat.has('broken')).toBe(false);
    expect(parseSingle('536870912\n')).toBe(536_870_912);
    expect(parseSingle('max\n')).toBeUndefined();
    expect(parseSingle('')).toBeUndefined();
    expect(parseSingle('-1')).toBeUndefined();
  });
});

describe('a unit cgroup', () => {
  it('is in system.slice under systemd (an instantiated one in its template\'s slice), under pcloud/ named for its unit dir under the direct manager', () => {
    expect(unitCgroupPath('systemd', '/data/run', UNIT)).toBe('system.slice/pcloud-nginx.service');
    expect(unitCgroupPath('systemd', '/data/run', INSTANCE)).toBe(`system.slice/system-pcloud\\x2dinstance.slice/${INSTANCE}.service`);
    expect(unitCgroupPath('direct', '/data/run', INSTANCE)).toBe(unitCgroup(`/data/run/units/${INSTANCE}`, INSTANCE));
    // Relative data dirs name the same cgroup the supervisor made (its unit dir is absolute).
    expect(unitCgroupPath('direct', 'run', INSTANCE)).toBe(unitCgroup(join(process.cwd(), 'run/units', INSTANCE), INSTANCE));
    // systemd's unit_name_escape: `-`, a leading dot and other bytes escaped.
    expect(systemdEscape('pcloud-tpm')).toBe('pcloud\\x2dtpm');
    expect(systemdEscape('.a b/é')).toBe('\\x2ea\\x20b\\x2f\\xc3\\xa9');
  });

  it('reads cgroup v2: CPU time, memory now, its limit and its peak', async () => {
    const u = await systemd('v2').usage(UNIT);
    expect(u).toMatchObject({ cpuUsec: 2_500_000, memoryBytes: 104_857_600, memoryMaxBytes: 536_870_912, memoryPeakBytes: 157_286_400 });
    expect(typeof u!.at).toBe('number');
  });

  it('reads an unlimited v2 cgroup without a limit, and one without memory.peak (older kernels) without a peak', async () => {
    const u = await systemd('v2-unlimited').usage(UNIT);
    expect(u).toMatchObject({ cpuUsec: 1000, memoryBytes: 4096 });
    expect(u!.memoryMaxBytes).toBeUndefined();
    expect(u!.memoryPeakBytes).toBeUndefined();
  });

  it('reads a hybrid host: CPU time from the unified hierarchy, memory from the memory controller', async () => {
    expect(await systemd('hybrid').usage(UNIT)).toMatchObject({
      cpuUsec: 7_000_000, memoryBytes: 52_428_800, memoryMaxBytes: 268_435_456, memoryPeakBytes: 67_108_864,
    });
  });

  it('reads v1: CPU time from cpuacct (nanoseconds), and v1\'s "no limit" as none', async () => {
    const u = await systemd('v1').usage(UNIT);
    expect(u).toMatchObject({ cpuUsec: 3_000_000, memoryBytes: 8_192_000 });
    expect(u!.memoryMaxBytes).toBeUndefined();
  });

  it('has no reading for a unit without a cgroup (not running, or on another host)', async () => {
    for (const layout of ['v2', 'hybrid', 'v1']) expect(await systemd(layout).usage(INSTANCE)).toBeUndefined();
    expect(await new CgroupReader(() => 'nowhere', join(FIXTURES, 'missing')).usage(UNIT)).toBeUndefined();
  });
});

describe('CPU%', () => {
  const at = (ms: number, cpuUsec?: number): CgroupUsage => ({ at: ms, cpuUsec });

  it('is CPU time over elapsed time, in percent of one CPU', () => {
    expect(cpuPercent(at(0, 0), at(1000, 500_000))).toBe(50);
    expect(cpuPercent(at(1000, 1_000_000), at(3000, 5_000_000))).toBe(200);
    expect(cpuPercent(at(0, 7), at(2000, 7))).toBe(0);
  });

  it('has none without two readings, when the counter went back (started again) or no time passed', () => {
    expect(cpuPercent(undefined, at(1000, 5))).toBeUndefined();
    expect(cpuPercent(at(0, 5), undefined)).toBeUndefined();
    expect(cpuPercent(at(0), at(1000, 5))).toBeUndefined();
    expect(cpuPercent(at(0, 5_000_000), at(1000, 1000))).toBeUndefined();
    expect(cpuPercent(at(1000, 0), at(1000, 10))).toBeUndefined();
  });
});
