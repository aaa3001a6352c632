/**
 * A unit's description as systemd properties: the one source for both what the systemd manager passes to
 * `systemd-run -p` and the unit file that `systemd-analyze verify` checks (test/unit-files.test.ts).
 */
import type { UnitSpec } from './types.js';

export interface UnitProperties {
  unit: [string, string][];
  service: [string, string][];
}

/** Quote one argv word for an ExecStart= line. */
export function execWord(w: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) && !w.includes('%')) return w;
  return `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

export function unitProperties(spec: UnitSpec): UnitProperties {
  const service: [string, string][] = [
    ['Type', spec.type],
    ['TimeoutStartSec', `${spec.startTimeoutSec}s`],
    ['TimeoutStopSec', `${spec.stopTimeoutSec}s`],
    ['KillSignal', spec.killSignal ?? 'SIGTERM'],
  ];
  if (spec.delegate) service.push(['Delegate', 'yes'], ['KillMode', 'mixed']);
  if (spec.restartForceExitStatus?.length) {
    service.push(['RestartForceExitStatus', spec.restartForceExitStatus.join(' ')], ['SuccessExitStatus', spec.restartForceExitStatus.join(' ')]);
  }
  const l = spec.limits ?? {};
  if (l.cpuQuotaPercent) service.push(['CPUQuota', `${l.cpuQuotaPercent}%`]);
  if (l.memoryMaxBytes) service.push(['MemoryMax', String(l.memoryMaxBytes)]);
  if (l.tasksMax) service.push(['TasksMax', String(l.tasksMax)]);
  for (const [k, v] of Object.entries(spec.env ?? {})) service.push(['Environment', `${k}=${v}`]);
  const unit: [string, string][] = [['Description', spec.description]];
  if (spec.restart) {
    service.push(['Restart', spec.restart.when], ['RestartSec', `${spec.restart.delaySec}s`]);
    unit.push(['StartLimitIntervalSec', `${spec.restart.intervalSec}s`], ['StartLimitBurst', String(spec.restart.burst)]);
  }
  return { unit, service };
}

/** The unit file equivalent of a spec (what `systemctl cat` would show for the transient unit). */
export function renderUnitFile(spec: UnitSpec): string {
  const p = unitProperties(spec);
  const lines = ['[Unit]', ...p.unit.map(([k, v]) => `${k}=${v}`), '', '[Service]'];
  lines.push(`ExecStart=${spec.exec.map(execWord).join(' ')}`);
  for (const [k, v] of p.service) lines.push(`${k}=${k === 'Environment' ? execWord(v) : v}`);
  return lines.join('\n') + '\n';
}
