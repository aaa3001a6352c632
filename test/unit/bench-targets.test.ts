/** Issue 14's targets as bench/targets.ts judges them from the parts' figures: met, missed with the measured reason, not run. */
import { describe, expect, it } from 'vitest';
import { verdicts, type Parts } from '../../bench/targets.js';

const machine = { cores: 2, busyShare: 0.93, topCpuSeconds: [['systemd', 12.5], ['node', 3.2]] as [string, number][] };
const cpu = (total: number) => ({ totalS: { p50: total }, unitS: { p50: total - 0.1 }, serverS: { p50: 0.08 }, sharedS: { p50: 0.02 } });

function container(runningP50: number, bareP50: number): NonNullable<Parts['container']> {
  return {
    at: '2026-12-01T00:00:00.000Z',
    image: { speaksGuestProtocol: false },
    bare: { readyMs: { p50: bareP50 } },
    pcloud: { runningMs: { p50: runningP50 }, okMs: { p50: runningP50 + 900 }, userDataMarkOnConsoleAtOk: '7/7' },
    cpuPerBoot: { toRunning: cpu(0.2), toOk: cpu(0.9) },
    idleMemoryMiB: { current: { p50: 31 }, anon: { p50: 12 }, file: { p50: 19 } },
    machine,
  };
}

const byName = (v: ReturnType<typeof verdicts>, start: string) => v.find((x) => x.target.startsWith(start))!;

describe('verdicts', () => {
  it('says every target is not run when no part has been', () => {
    const v = verdicts({});
    expect(v).toHaveLength(11);
    for (const x of v) {
      expect(x.met).toBeUndefined();
      expect(x.reason).toMatch(/^part "[a-z-]+" not run \(npm run bench [a-z-]+\)$/);
    }
  });

  it('a met target has no reason; a missed one gives the baseline and the machine it ran on', () => {
    const fast = verdicts({ container: container(420, 300) });
    expect(byName(fast, 'container RunInstances → running')).toMatchObject({ measured: 420, met: true, reason: undefined });
    expect(byName(fast, 'host CPU per container boot')).toMatchObject({ measured: 0.2, met: true });

    const slow = byName(verdicts({ container: container(2100, 1960) }), 'container RunInstances → running');
    expect(slow.met).toBe(false);
    expect(slow.baseline).toContain('p50 1960 ms');
    expect(slow.reason).toContain("the guest's own boot (bare nspawn, no pcloud) takes 1960 ms");
    expect(slow.reason).toContain('pcloud adds 140 ms');
    expect(slow.reason).toContain('93% busy');
    expect(slow.reason).toContain('systemd 12.5 s');

    const overhead = byName(verdicts({ container: container(900, 300) }), 'container RunInstances → running');
    expect(overhead.reason).toMatch(/^pcloud adds 600 ms to a bare boot of 300 ms/);
  });

  it('status ok missed says whether the guest protocol split it from running', () => {
    const old = byName(verdicts({ container: container(2000, 1900) }), 'container RunInstances → status ok');
    expect(old.reason).toMatch(/^the image does not speak the guest protocol: ok comes with running/);
    const c = { ...container(400, 300), image: { speaksGuestProtocol: true }, bare: { readyMs: { p50: 300 }, okMs: { p50: 1700 } } };
    const split = byName(verdicts({ container: c }), 'container RunInstances → status ok');
    expect(split).toMatchObject({ measured: 1300, met: true });
    const slow = byName(verdicts({ container: { ...c, pcloud: { ...c.pcloud, okMs: { p50: 2400 } } } }), 'container RunInstances → status ok');
    expect(slow.baseline).toBe("bare boot to the guest's X_PCLOUD_BOOT: p50 1700 ms");
    expect(slow.reason).toMatch(/^2000 ms of it after running \(the guest's cloud-init stages and user-data\); bare boot to done 1700 ms; user-data's mark on the console at ok in 7\/7 runs/);
  });

  it('idle memory missed says how much of it is anonymous and how much page cache', () => {
    const m = byName(verdicts({ container: container(400, 300) }), 'idle container memory');
    expect(m).toMatchObject({ measured: 31, limit: 25, met: false });
    expect(m.reason).toBe('anonymous 12 MiB (the guest\'s processes), file pages 19 MiB (page cache charged to it) p50');
    const dense: NonNullable<Parts['dense']> = {
      count: 40, allOk: true, statuses: { ok: 40 }, failures: [], terminatedCleanly: true, leftovers: [], machine,
      idle: { memoryMiB: { totalCurrent: 3182 }, hostMemAvailableMiB: { before: 22633, allIdle: 21480 } },
    };
    expect(byName(verdicts({ container: container(400, 300), dense }), 'idle container memory').reason)
      .toMatch(/p50; with 40 idle at once the host's MemAvailable fell 29 MiB an instance \(page cache counts as available\)$/);
  });

  it('a fleet not all ok is not a figure: the statuses are the reason', () => {
    const v = verdicts({
      fleet: {
        count: 20, bare: { readyMs: { all: 26000 } }, machine,
        pcloud: { runningMs: { all: 31000 }, doneMs: { all: 40000 }, statuses: { ok: 18, impaired: 2 } },
        hostCpu: { toAllRunning: { totalS: 60, perInstanceS: 3 }, toAllOk: { totalS: 70 } },
      },
    });
    const running = byName(v, '20 in one RunInstances call: all running');
    expect(running.met).toBe(false);
    expect(running.reason).toContain('at least 30000 ms on 2 cores');
    const ok = byName(v, '20 in one RunInstances call: all ok');
    expect(ok.measured).toBeUndefined();
    expect(ok.met).toBe(false);
    expect(ok.reason).toBe('only 18 of 20 ok ({"ok":18,"impaired":2})');
  });

  it('a fleet with instances that ended during the launch has no "all" figure: the API\'s reason is given', () => {
    const v = verdicts({
      fleet: {
        count: 20, bare: { readyMs: { all: 26000 } }, machine,
        pcloud: { runningMs: {}, statuses: { ok: 17, 'ended during launch': 3 }, failed: ['i-1 terminated: not ready in 120 s', 'i-2 terminated: x', 'i-3 terminated: y'] },
        hostCpu: { toAllRunning: { totalS: 60, perInstanceS: 3 } },
      },
    });
    const running = byName(v, '20 in one RunInstances call: all running');
    expect(running.measured).toBeUndefined();
    expect(running.met).toBe(false);
    expect(running.reason).toBe('3 of 20 ended during the launch (i-1 terminated: not ready in 120 s, ...)');
    expect(byName(v, '20 in one RunInstances call: all ok').reason).toBe('only 17 of 20 ok ({"ok":17,"ended during launch":3}); 3 of 20 ended during the launch (i-1 terminated: not ready in 120 s, ...)');
  });

  it('dense is met only when every instance is ok and nothing is left behind', () => {
    const dense = (over: Partial<NonNullable<Parts['dense']>>): Parts => ({
      dense: {
        count: 200, allOk: true, statuses: { ok: 200 }, failures: [], terminatedCleanly: true, leftovers: [], machine,
        idle: { memoryMiB: { totalCurrent: 6000 }, hostMemAvailableMiB: { before: 22000, allIdle: 16000 } }, ...over,
      },
    });
    expect(byName(verdicts(dense({})), '200 idle')).toMatchObject({ met: true, measured: 200, reason: undefined });
    const small = byName(verdicts(dense({ count: 40, statuses: { ok: 40 } })), '200 idle');
    expect(small).toMatchObject({ met: undefined, measured: 40, limit: 200 });
    expect(small.reason).toMatch(/^run with 40 \(BENCH_DENSE\), not 200; idle they held/);
    const left = byName(verdicts(dense({ terminatedCleanly: false, leftovers: ['i-1: disk i-1'] })), '200 idle');
    expect(left.met).toBe(false);
    expect(left.reason).toContain('left behind: i-1: disk i-1');
    const notOk = byName(verdicts(dense({ allOk: false, statuses: { ok: 150, initializing: 50 }, failures: ['50 of 100 not ok after 1800000 ms'] })), '200 idle');
    expect(notOk.reason).toMatch(/^150 of 200 ok .*: 50 of 100 not ok after 1800000 ms/);
  });

  it('microvm ratios are judged against 1.1 with the bare milestones as baseline', () => {
    const v = verdicts({
      microvm: {
        bare: { readyMs: { p50: 20000 }, okMs: { p50: 20000 } }, pcloud: { runningMs: { p50: 21000 }, okMs: { p50: 25000 } },
        ratioP50: { running: 1.05, ok: 1.25 }, imageSpeaksGuestProtocol: false, machine,
      },
    });
    expect(byName(v, 'microvm → running')).toMatchObject({ met: true, measured: 1.05 });
    const ok = byName(v, 'microvm → ok');
    expect(ok.met).toBe(false);
    expect(ok.reason).toContain('pcloud adds 5000 ms (the image does not speak the guest protocol');
  });
});
