/** The benchmark's readers of the kernel's figures (bench/cost.ts) and its percentiles (bench/lib.ts): pure parts. */
import { describe, expect, it } from 'vitest';
import { bootCost, fleetCpu, parseKeyValues, parseProcStatCpu, parseProcStatTicks, topCommands, type CostSnapshot } from '../../bench/cost.js';
import { pct, summary } from '../../bench/lib.js';

describe('parseKeyValues', () => {
  it('reads cgroup v2 cpu.stat and memory.stat lines', () => {
    const m = parseKeyValues('usage_usec 28734922948\nuser_usec 22449613950\nsystem_usec 6285308997\nnr_periods 0\n');
    expect(m.get('usage_usec')).toBe(28734922948);
    expect(m.get('nr_periods')).toBe(0);
    expect(m.size).toBe(4);
  });

  it('skips lines that are not one key and one whole number', () => {
    const m = parseKeyValues('total_rss 4096\nsome avg10=0.00 avg60=0.00\nbad -1\nempty\n\nspaced   12  \nhuge 1 2\n');
    expect([...m.entries()]).toEqual([['total_rss', 4096], ['spaced', 12]]);
  });
});

describe('parseProcStatTicks', () => {
  it('counts fields after the command name, which may hold spaces and parentheses', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const line = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 200 0 0 1500 300 70 30 20 0 11 0 12345 1000000 5000';
    expect(parseProcStatTicks(line)).toEqual({ self: 1800, children: 100 });
  });

  it('refuses a line that is not /proc/PID/stat', () => {
    expect(() => parseProcStatTicks('nonsense')).toThrow(/not a \/proc\/PID\/stat/);
  });
});

describe('parseProcStatCpu', () => {
  it('busy is everything but idle and iowait, over the first eight counters', () => {
    const text = 'cpu  100 5 50 1000 20 3 2 1 40 0\ncpu0 50 2 25 500 10 1 1 0 20 0\nintr 1 2 3\n';
    expect(parseProcStatCpu(text)).toEqual({ busy: 161, total: 1181 });
  });

  it('refuses text with no cpu line', () => {
    expect(() => parseProcStatCpu('intr 1\n')).toThrow(/no cpu line/);
  });
});

describe('topCommands', () => {
  it('sums CPU by command, counts a new process whole and a reused pid as new', () => {
    const before = new Map([[1, { comm: 'node', ticks: 100 }], [2, { comm: 'qemu', ticks: 50 }], [3, { comm: 'sh', ticks: 7 }]]);
    const after = new Map([[1, { comm: 'node', ticks: 180 }], [2, { comm: 'qemu', ticks: 50 }], [3, { comm: 'systemd', ticks: 9 }], [4, { comm: 'node', ticks: 30 }]]);
    expect(topCommands(before, after, 5)).toEqual([['node', 110], ['systemd', 9]]);
    expect(topCommands(before, after, 1)).toEqual([['node', 110]]);
  });
});

const snap = (serverS: number, sharedS: number, inst: [string, number][]): CostSnapshot =>
  ({ serverS, sharedS, instancesS: new Map(inst), machine: { busy: 0, total: 0 } });

describe('bootCost', () => {
  it('adds the instance unit, the server less its polls and the shared units', () => {
    const c = bootCost(snap(10, 2, []), snap(10.5, 2.05, [['i-1', 0.8]]), 'i-1', 100, 0.002);
    expect(c).toEqual({ unitS: 0.8, serverS: 0.3, sharedS: 0.05, totalS: 1.15 });
  });

  it('never counts the server below zero, and an instance with no cgroup read is not a figure', () => {
    const c = bootCost(snap(10, 0, []), snap(10.1, 0, []), 'i-1', 100, 0.002);
    expect(c.serverS).toBe(0);
    expect(Number.isNaN(c.unitS)).toBe(true);
    expect(Number.isNaN(c.totalS)).toBe(true);
  });
});

describe('fleetCpu', () => {
  it('sums every instance unit with the server and shared units, and divides by the instances read', () => {
    const f = fleetCpu(snap(5, 1, []), snap(7, 1.5, [['i-1', 1], ['i-2', 1.5]]));
    expect(f).toEqual({ unitsS: 2.5, serverS: 2, sharedS: 0.5, totalS: 5, perInstanceS: 2.5 });
  });
});

describe('percentiles', () => {
  it('pct takes the nearest rank at or below, whatever the order given', () => {
    const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(pct(v, 50)).toBe(6);
    expect(pct(v, 99)).toBe(10);
    expect(pct(v, 0)).toBe(1);
    expect(pct([], 50)).toBeNaN();
  });

  it('summary rounds to the digits asked', () => {
    expect(summary([0.12345, 0.2], 3)).toEqual({ n: 2, p50: 0.2, p95: 0.2, p99: 0.2, max: 0.2 });
    expect(summary([0.12345], 3).p50).toBe(0.123);
  });
});
