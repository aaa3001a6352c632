/**
 * A unit's description as systemd properties: the one source for both what the systemd manager passes to
 * `systemd-run -p` and the unit file that `systemd-analyze verify` checks (test/unit-files.test.ts).
 *
 * Everything written into a unit file goes through the escapers here, by the rules of systemd.syntax(7) and
 * systemd.service(5): words in double quotes with C-style escapes (so a newline is `\n`, never a new line, and no
 * value can start a directive of its own), `%` doubled (specifiers are expanded in these settings), `$` doubled in
 * ExecStart= (variables are substituted there, not in Environment=). What a unit file cannot carry (a NUL, text
 * that is not valid UTF-8, a line longer than systemd reads) is refused with a UnitValueError, never mangled.
 */
import type { UnitSpec } from './types.js';
import { deviceAllowValue } from './devices.js';

/** A value a unit file cannot carry as it is: the caller refuses the request that brought it. */
export class UnitValueError extends Error {
  override name = 'UnitValueError';
}

/** systemd reads unit file lines up to LONG_LINE_MAX (1 MiB) and fails the unit on a longer one. */
const MAX_LINE = 1024 * 1024 - 2;

/** A word that needs no quoting: nothing systemd splits, unquotes, unescapes, expands or substitutes. */
const PLAIN = /^[A-Za-z0-9_@+=:,./-]+$/;

const C_ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\t': '\\t', '\r': '\\r', '\v': '\\v', '\f': '\\f', '\b': '\\b', '\x07': '\\a' };

function refuseUnrepresentable(s: string, what: string): void {
  if (s.includes('\0')) throw new UnitValueError(`${what} contains a NUL character, which a unit file cannot carry`);
  if (/[\ud800-\udfff]/u.test(s)) throw new UnitValueError(`${what} is not valid UTF-8`);
}

/** One double-quoted word: C escapes for `\`, `"` and control characters, `%%` for `%`, and `$$` for `$` if asked. */
function quoted(s: string, dollar: boolean, what: string): string {
  refuseUnrepresentable(s, what);
  const body = s.replace(/[\\"%$\x00-\x1f\x7f]/g, (c) => {
    if (c === '%') return '%%';
    if (c === '$') return dollar ? '$$' : '$';
    return C_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `"${body}"`;
}

function line(text: string, what: string): string {
  if (text.length > MAX_LINE) throw new UnitValueError(`${what} is too long for a unit file`);
  return text;
}

/** Quote one argv word for an ExecStart= line (its `$` and `%` stay literal). */
export function execWord(w: string): string {
  return PLAIN.test(w) ? w : quoted(w, true, 'A command argument');
}

/** An ExecStart= value: argv[0] may not be empty or begin with one of systemd's prefixes (`@-:+!`, e.g. `+` runs as root). */
export function execLine(argv: readonly string[]): string {
  const [cmd] = argv;
  if (!cmd || /^[@\-:+!]/.test(cmd)) throw new UnitValueError('A command must start with a program name');
  return line(argv.map(execWord).join(' '), 'A command line');
}

/** One Environment= assignment as a single word: `NAME=value`, the value's bytes exactly (newlines included). */
export function environmentWord(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UnitValueError(`Environment variable name ${JSON.stringify(name.slice(0, 64))} is invalid`);
  const w = `${name}=${value}`;
  return PLAIN.test(w) ? w : quoted(w, false, `Environment variable ${name}`);
}

/**
 * A plain setting's value (Description=, ListenStream=, a path or a number): one line, `%` doubled. Control
 * characters, surrounding whitespace (systemd strips it) and a trailing `\` (a continuation line) are refused.
 */
export function unitValue(s: string, what = 'A unit setting'): string {
  refuseUnrepresentable(s, what);
  if (/[\x00-\x1f\x7f]/.test(s)) throw new UnitValueError(`${what} contains a control character (a newline?)`);
  if (s !== s.trim() || s.endsWith('\\')) throw new UnitValueError(`${what} has surrounding whitespace or a trailing backslash`);
  return line(s.replace(/%/g, '%%'), what);
}

/** A unit setting's name: a word of letters and digits, as systemd's settings are. */
export function settingKey(k: string): string {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(k)) throw new UnitValueError(`${JSON.stringify(k.slice(0, 64))} is not a unit setting`);
  return k;
}

export interface UnitProperties {
  unit: [string, string][];
  service: [string, string][];
}

/** Properties as `systemd-run` takes them (over the bus: raw values, no unit-file quoting); Environment is `NAME=value`. */
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
  if (spec.devices) {
    service.push(['DevicePolicy', spec.devices.policy]);
    for (const a of spec.devices.allow) service.push(['DeviceAllow', deviceAllowValue(a)]);
  }
  for (const [k, v] of Object.entries(spec.env ?? {})) service.push(['Environment', `${k}=${v}`]);
  const unit: [string, string][] = [['Description', spec.description]];
  if (spec.restart) {
    service.push(['Restart', spec.restart.when], ['RestartSec', `${spec.restart.delaySec}s`]);
    unit.push(['StartLimitIntervalSec', `${spec.restart.intervalSec}s`], ['StartLimitBurst', String(spec.restart.burst)]);
  }
  return { unit, service };
}

/**
 * The unit file equivalent of a spec (what `systemctl cat` would show for the transient unit), every value escaped.
 * CPUQuota= is the one setting whose `%` is its unit, not a specifier (systemd does not expand specifiers there).
 */
export function renderUnitFile(spec: UnitSpec): string {
  const p = unitProperties(spec);
  const lines = ['[Unit]', ...p.unit.map(([k, v]) => `${settingKey(k)}=${unitValue(v, k)}`), '', '[Service]'];
  lines.push(`ExecStart=${execLine(spec.exec)}`);
  for (const [k, v] of p.service) {
    if (k === 'Environment') {
      const eq = v.indexOf('=');
      lines.push(line(`Environment=${environmentWord(v.slice(0, eq), v.slice(eq + 1))}`, 'An environment variable'));
    } else if (k === 'CPUQuota') {
      lines.push(`CPUQuota=${v}`);
    } else {
      lines.push(`${settingKey(k)}=${unitValue(v, k)}`);
    }
  }
  return lines.join('\n') + '\n';
}
