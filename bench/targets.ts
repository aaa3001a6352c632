/**
 * Issue 14's targets against the figures the parts wrote (bench/results/{container,fleet,fleet-large,dense,microvm}
 * .json): each one met or missed, and when missed the reason as the same run measured it (its baseline, the CPU it
 * took, what the machine was doing): never a guess. A part not run yet is said so. Pure: tested in
 * test/unit/bench-targets.test.ts.
 */

/** The figures the verdicts read; each part's file holds more (see its module). */
export interface Parts {
  container?: {
    at?: string;
    image: { speaksGuestProtocol: boolean };
    bare: { readyMs: { p50: number }; okMs?: { p50: number } };
    pcloud: { runningMs: { p50: number }; okMs: { p50: number }; userDataMarkOnConsoleAtOk: string };
    cpuPerBoot: { toRunning: CpuParts; toOk: CpuParts };
    idleMemoryMiB: { current: { p50: number }; anon: { p50: number }; file: { p50: number } };
    machine: Machine;
  };
  fleet?: {
    at?: string;
    count: number;
    bare: { readyMs: { all: number }; okMs?: { all: number } };
    pcloud: { runningMs: { all?: number }; doneMs?: { all?: number }; statuses: Record<string, number>; failed?: string[] };
    hostCpu: { toAllRunning: { totalS: number; perInstanceS: number }; toAllOk?: { totalS: number } };
    machine: Machine;
  };
  'fleet-large'?: {
    at?: string;
    count: number;
    pcloud: { runningMs: { all?: number }; statuses?: Record<string, number>; failed?: string[] };
    describeInstancesMs: { beforeLaunch: { p50: number; p99: number }; duringLaunch: { p50: number; p99: number }; allRunning: { p50: number; p99: number } };
    hostCpu: { toAllRunning: { totalS: number; perInstanceS: number } };
    machine: Machine;
  };
  dense?: {
    at?: string;
    count: number;
    allOk: boolean;
    statuses: Record<string, number>;
    failures: string[];
    terminatedCleanly: boolean;
    leftovers: string[];
    idle: { memoryMiB: { totalCurrent: number }; hostMemAvailableMiB: { before: number; allIdle: number } };
    machine: Machine;
  };
  microvm?: {
    at?: string;
    bare: { readyMs: { p50: number }; okMs: { p50: number } };
    pcloud: { runningMs: { p50: number }; okMs: { p50: number } };
    ratioP50: { running: number; ok: number };
    imageSpeaksGuestProtocol: boolean;
    machine: Machine;
  };
}

interface CpuParts { totalS: { p50: number }; unitS: { p50: number }; serverS: { p50: number }; sharedS: { p50: number } }
interface Machine { cores: number; busyShare: number; topCpuSeconds?: [string, number][] }

export interface Verdict {
  target: string;
  limit: number;
  unit: string;
  measured?: number;
  met?: boolean;
  /** The same run's baseline for this figure, where it has one. */
  baseline?: string;
  /** Why it is missed, from what the run measured (present when missed or not measured). */
  reason?: string;
  at?: string;
}

const busy = (m: Machine) => `the machine was ${Math.round(m.busyShare * 100)}% busy over the part (${m.cores} cores; most CPU: ${(m.topCpuSeconds ?? []).slice(0, 4).map(([c, s]) => `${c} ${s} s`).join(', ')})`;

/** Met when measured within the limit; with no figure, missed if `missed` (instances ended), else unknown. */
function verdict(v: Omit<Verdict, 'met'> & { missed?: boolean }, why: () => string): Verdict {
  const { missed, ...rest } = v;
  if (v.measured === undefined || !Number.isFinite(v.measured)) return { ...rest, measured: undefined, met: missed ? false : undefined, reason: v.reason ?? 'not measured' };
  const met = v.measured <= v.limit;
  return { ...rest, met, reason: met ? undefined : why() };
}

/** Why a fleet has no "all" figure: the instances that ended during the launch, with the API's reason. */
const endedReason = (count: number, failed: string[] | undefined, statuses: Record<string, number> | undefined): string | undefined =>
  (failed?.length ? `${failed.length} of ${count} ended during the launch (${failed[0]}${failed.length > 1 ? ', ...' : ''})` : statuses ? `not all: ${JSON.stringify(statuses)}` : undefined);

const notRun = (target: string, limit: number, unit: string, part: string): Verdict =>
  ({ target, limit, unit, reason: `part "${part}" not run (npm run bench ${part})` });

export function verdicts(p: Parts): Verdict[] {
  const out: Verdict[] = [];
  const c = p.container;
  if (c) {
    const bareReady = c.bare.readyMs.p50;
    out.push(verdict({
      target: 'container RunInstances → running p50', limit: 500, unit: 'ms', measured: c.pcloud.runningMs.p50, at: c.at,
      baseline: `bare systemd-nspawn --boot of the same image and seed to PID 1's READY: p50 ${bareReady} ms`,
    }, () => (bareReady > 500
      ? `the guest's own boot (bare nspawn, no pcloud) takes ${bareReady} ms p50 to READY, over the target by itself; pcloud adds ${Math.round(c.pcloud.runningMs.p50 - bareReady)} ms; each boot took ${c.cpuPerBoot.toRunning.totalS.p50} CPU-s to running; ${busy(c.machine)}`
      : `pcloud adds ${Math.round(c.pcloud.runningMs.p50 - bareReady)} ms to a bare boot of ${bareReady} ms; ${busy(c.machine)}`)));
    const bareOk = c.bare.okMs?.p50;
    out.push(verdict({
      target: 'container RunInstances → status ok with a user-data script p50', limit: 1500, unit: 'ms', measured: c.pcloud.okMs.p50, at: c.at,
      baseline: bareOk === undefined ? 'the image does not speak the guest protocol: its bare boot is done at READY' : `bare boot to the guest's X_PCLOUD_BOOT: p50 ${bareOk} ms`,
    }, () => `${c.image.speaksGuestProtocol
      ? `${Math.round(c.pcloud.okMs.p50 - c.pcloud.runningMs.p50)} ms of it after running (the guest's cloud-init stages and user-data); bare boot to done ${bareOk ?? '?'} ms`
      : `the image does not speak the guest protocol: ok comes with running, at PID 1's READY after every cloud-init stage; bare boot to READY ${bareReady} ms`}; user-data's mark on the console at ok in ${c.pcloud.userDataMarkOnConsoleAtOk} runs; ${c.cpuPerBoot.toOk.totalS.p50} CPU-s per boot to ok; ${busy(c.machine)}`));
    const cpu = c.cpuPerBoot.toRunning;
    out.push(verdict({
      target: 'host CPU per container boot to running', limit: 0.25, unit: 'CPU-s', measured: cpu.totalS.p50, at: c.at,
    }, () => `the instance's unit (supervisor, nspawn, the guest's boot) ${cpu.unitS.p50} s, the server and its host commands ${cpu.serverS.p50} s, shared units ${cpu.sharedS.p50} s (p50 each)`));
    out.push(verdict({
      target: 'idle container memory (cgroup memory.current after boot settles)', limit: 25, unit: 'MiB', measured: c.idleMemoryMiB.current.p50, at: c.at,
    }, () => `anonymous ${c.idleMemoryMiB.anon.p50} MiB (the guest's processes), file pages ${c.idleMemoryMiB.file.p50} MiB (page cache charged to it) p50${p.dense
      ? `; with ${p.dense.count} idle at once the host's MemAvailable fell ${Math.round((p.dense.idle.hostMemAvailableMiB.before - p.dense.idle.hostMemAvailableMiB.allIdle) / p.dense.count)} MiB an instance (page cache counts as available)`
      : ''}`));
  } else {
    out.push(notRun('container RunInstances → running p50', 500, 'ms', 'container'), notRun('container RunInstances → status ok with a user-data script p50', 1500, 'ms', 'container'),
      notRun('host CPU per container boot to running', 0.25, 'CPU-s', 'container'), notRun('idle container memory (cgroup memory.current after boot settles)', 25, 'MiB', 'container'));
  }

  const f = p.fleet;
  if (f) {
    const lowerBound = (s: number) => Math.round((s / f.machine.cores) * 1000);
    out.push(verdict({
      target: `${f.count} in one RunInstances call: all running`, limit: 3000, unit: 'ms', measured: f.pcloud.runningMs.all, at: f.at,
      reason: f.pcloud.runningMs.all === undefined ? endedReason(f.count, f.pcloud.failed, f.pcloud.statuses) : undefined,
      missed: !!f.pcloud.failed?.length,
      baseline: `${f.count} bare nspawn boots at once: all READY in ${f.bare.readyMs.all} ms`,
    }, () => `the launch took ${f.hostCpu.toAllRunning.totalS} CPU-s to all running (${f.hostCpu.toAllRunning.perInstanceS} s an instance): at least ${lowerBound(f.hostCpu.toAllRunning.totalS)} ms on ${f.machine.cores} cores; the same boots bare took ${f.bare.readyMs.all} ms; ${busy(f.machine)}`));
    const oks = f.pcloud.statuses.ok ?? 0;
    out.push(verdict({
      target: `${f.count} in one RunInstances call: all ok`, limit: 15000, unit: 'ms', measured: oks === f.count ? f.pcloud.doneMs?.all : undefined, at: f.at,
      baseline: f.bare.okMs ? `bare boots at once: all done in ${f.bare.okMs.all} ms` : 'the image does not speak the guest protocol: a bare boot is done at READY',
      missed: !!f.pcloud.failed?.length || (f.pcloud.statuses.impaired ?? 0) > 0,
      reason: oks === f.count ? undefined : `only ${oks} of ${f.count} ok (${JSON.stringify(f.pcloud.statuses)})${f.pcloud.failed?.length ? `; ${endedReason(f.count, f.pcloud.failed, undefined)}` : ''}`,
    }, () => `${f.hostCpu.toAllOk?.totalS ?? '?'} CPU-s to all ok: at least ${lowerBound(f.hostCpu.toAllOk?.totalS ?? NaN)} ms on ${f.machine.cores} cores; ${busy(f.machine)}`));
  } else {
    out.push(notRun('fleet in one RunInstances call: all running', 3000, 'ms', 'fleet'), notRun('fleet in one RunInstances call: all ok', 15000, 'ms', 'fleet'));
  }

  const l = p['fleet-large'];
  if (l) {
    out.push(verdict({
      target: `${l.count} in one RunInstances call: all running`, limit: 15000, unit: 'ms', measured: l.pcloud.runningMs.all, at: l.at,
      reason: l.pcloud.runningMs.all === undefined ? endedReason(l.count, l.pcloud.failed, l.pcloud.statuses) : undefined,
      missed: !!l.pcloud.failed?.length,
    }, () => `the launch took ${l.hostCpu.toAllRunning.totalS} CPU-s (${l.hostCpu.toAllRunning.perInstanceS} s an instance): at least ${Math.round((l.hostCpu.toAllRunning.totalS / l.machine.cores) * 1000)} ms on ${l.machine.cores} cores; ${busy(l.machine)}`));
    const d = l.describeInstancesMs;
    out.push(verdict({
      target: `DescribeInstances p99 during the launch of ${l.count}`, limit: 50, unit: 'ms', measured: d.duringLaunch.p99, at: l.at,
      baseline: `the same call before the launch p50 ${d.beforeLaunch.p50} / p99 ${d.beforeLaunch.p99} ms, once all were running p50 ${d.allRunning.p50} / p99 ${d.allRunning.p99} ms`,
    }, () => `p50 ${d.duringLaunch.p50} ms during the launch: the server shares the cores with ${l.count} booting guests; ${busy(l.machine)}`));
  } else {
    out.push(notRun('100 in one RunInstances call: all running', 15000, 'ms', 'fleet-large'), notRun('DescribeInstances p99 during the launch of 100', 50, 'ms', 'fleet-large'));
  }

  const n = p.dense;
  const DENSE = 200;
  if (n) {
    const okCount = n.statuses.ok ?? 0;
    const met = n.count >= DENSE && n.allOk && n.terminatedCleanly;
    out.push({
      target: `${DENSE} idle t3.nano containers at once, all ok, terminated cleanly`, limit: DENSE, unit: 'instances ok (at least)', measured: okCount, at: n.at,
      met: n.count < DENSE && n.allOk && n.terminatedCleanly ? undefined : met,
      reason: met ? undefined : [
        n.count < DENSE ? `run with ${n.count} (BENCH_DENSE), not ${DENSE}` : undefined,
        n.allOk ? undefined : `${okCount} of ${n.count} ok (${JSON.stringify(n.statuses)})${n.failures.length ? `: ${n.failures.join('; ')}` : ''}`,
        n.terminatedCleanly ? undefined : `left behind: ${n.leftovers.slice(0, 5).join('; ')}${n.leftovers.length > 5 ? ` and ${n.leftovers.length - 5} more` : ''}`,
        `idle they held ${n.idle.memoryMiB.totalCurrent} MiB (host MemAvailable ${n.idle.hostMemAvailableMiB.before} → ${n.idle.hostMemAvailableMiB.allIdle} MiB); ${busy(n.machine)}`,
      ].filter(Boolean).join('; '),
    });
  } else {
    out.push(notRun(`${DENSE} idle t3.nano containers at once, all ok, terminated cleanly`, DENSE, 'instances ok (at least)', 'dense'));
  }

  const v = p.microvm;
  if (v) {
    const proto = v.imageSpeaksGuestProtocol ? '' : ' (the image does not speak the guest protocol: its bare boot is done at READY)';
    out.push(verdict({
      target: 'microvm → running / bare QEMU to the guest\'s READY (p50)', limit: 1.1, unit: '×', measured: v.ratioP50.running, at: v.at,
      baseline: `bare QEMU to READY p50 ${v.bare.readyMs.p50} ms, pcloud p50 ${v.pcloud.runningMs.p50} ms`,
    }, () => `pcloud adds ${Math.round(v.pcloud.runningMs.p50 - v.bare.readyMs.p50)} ms: its guest gets its address by DHCP and its seed from the metadata service, the bare one has no NIC and a NoCloud seed on its disk; ${busy(v.machine)}`));
    out.push(verdict({
      target: 'microvm → ok / bare QEMU to the same milestone (p50)', limit: 1.1, unit: '×', measured: v.ratioP50.ok, at: v.at,
      baseline: `bare QEMU to done p50 ${v.bare.okMs.p50} ms${proto}, pcloud p50 ${v.pcloud.okMs.p50} ms`,
    }, () => `pcloud adds ${Math.round(v.pcloud.okMs.p50 - v.bare.okMs.p50)} ms${proto}; ${busy(v.machine)}`));
  } else {
    out.push(notRun('microvm → running / bare QEMU to the guest\'s READY (p50)', 1.1, '×', 'microvm'), notRun('microvm → ok / bare QEMU to the same milestone (p50)', 1.1, '×', 'microvm'));
  }
  return out;
}
