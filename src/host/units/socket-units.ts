/**
 * A socket unit's description (types.ts' SocketSection) as systemd unit files: the `.socket` and the service it
 * starts, a template `NAME@.service` with Accept=yes (an instance per connection). Every value goes through
 * render.ts' escapers; a path a unit file cannot name plainly is refused. The systemd manager writes these into its
 * unit directory and starts the socket; systemd-analyze verify checks them in test/unit/socket-units.test.ts.
 */
import { isPlainPath } from '../host-path.js';
import { CREDENTIALS_ROOT, OPT_ROOT, TASK_ROOT } from '../sandbox.js';
import { environmentWord, execLine, settingKey, UnitValueError, unitValue } from './render.js';
import type { SocketSection, UnitSandbox, UnitSpec } from './types.js';

/** The kernel's sun_path holds 107 bytes and a NUL. */
const MAX_SOCKET_PATH = 107;

export interface SocketUnitFiles {
  socket: { file: string; text: string };
  service: { file: string; text: string };
}

/** A host path a unit file's path setting takes as it is (pcloud makes these paths, never tenants). */
function unitPath(path: string): string {
  if (!isPlainPath(path)) throw new UnitValueError(`A unit cannot name the path ${JSON.stringify(path.slice(0, 200))}: use a data dir whose path has only letters, digits and /._@+-`);
  return path;
}

/**
 * The hardening of a sandboxed service (types.ts' UnitSandbox): a dynamic user in a read-only system, nothing of the
 * host's homes, devices, kernel knobs or pcloud's data (`hidden` as empty read-only tmpfs, /run/pcloud gone), seccomp,
 * only UNIX and IP sockets, no namespaces; the code read-only at TASK_ROOT, the runtime's files read-only.
 */
export function sandboxSettings(s: UnitSandbox): [string, string][] {
  return [
    // Homes as empty read-only tmpfs dirs (ProtectHome=tmpfs's are writable; =yes would hide a project under /root).
    'DynamicUser=yes', 'ProtectSystem=strict', 'TemporaryFileSystem=/home:ro /root:ro /run/user:ro', 'PrivateTmp=yes', 'PrivateDevices=yes', 'PrivateIPC=yes', 'NoNewPrivileges=yes',
    'ProtectKernelTunables=yes', 'ProtectKernelModules=yes', 'ProtectKernelLogs=yes', 'ProtectControlGroups=yes', 'ProtectClock=yes',
    'ProtectHostname=yes', 'ProtectProc=invisible', 'RestrictNamespaces=yes', 'RestrictSUIDSGID=yes', 'RestrictRealtime=yes', 'LockPersonality=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6', 'SystemCallFilter=@system-service', 'SystemCallErrorNumber=EPERM',
    'SystemCallArchitectures=native', 'CapabilityBoundingSet=', 'AmbientCapabilities=', 'UMask=0077',
    ...s.hidden.map((p) => `TemporaryFileSystem=${unitPath(p)}:ro`), 'InaccessiblePaths=-/run/pcloud',
    `BindReadOnlyPaths=${unitPath(s.code)}:${TASK_ROOT}`, ...s.readOnly.map((p) => `BindReadOnlyPaths=${unitPath(p)}`),
    ...(s.opt ? [`BindReadOnlyPaths=${unitPath(s.opt)}:${OPT_ROOT}`] : []),
    ...(s.credentials ? [`BindReadOnlyPaths=${unitPath(s.credentials)}:${CREDENTIALS_ROOT}`] : []),
    `WorkingDirectory=${TASK_ROOT}`,
  ].map((l): [string, string] => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}

function listenPath(path: string): string {
  if (!path.startsWith('/')) throw new UnitValueError('A socket path must be absolute');
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new UnitValueError(`A socket path must be at most ${MAX_SOCKET_PATH} bytes`);
  return unitValue(path, 'A socket path');
}

function socketMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new UnitValueError(`${mode} is not a file mode`);
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function count(n: number, what: string): string {
  if (!Number.isSafeInteger(n) || n <= 0) throw new UnitValueError(`${what} must be a positive whole number`);
  return String(n);
}

const settings = (pairs: [string, string][]): string[] => pairs.map(([k, v]) => `${settingKey(k)}=${unitValue(v, k)}`);

/** The socket's unit file. */
function socketText(spec: UnitSpec, s: SocketSection): string {
  return [
    '[Unit]', `Description=${unitValue(spec.description, 'Description')}`, '',
    '[Socket]', `ListenStream=${listenPath(s.listen)}`, `SocketMode=${socketMode(s.mode)}`, `Accept=${s.accept ? 'yes' : 'no'}`,
    ...(s.maxConnections === undefined ? [] : [`MaxConnections=${count(s.maxConnections, 'MaxConnections')}`]), '',
    '[Install]', 'WantedBy=sockets.target', '',
  ].join('\n');
}

/** The service the socket starts: the program, its environment, each process's limits, its sandbox. */
function serviceText(spec: UnitSpec, s: SocketSection): string {
  const l = s.serviceLimits ?? {};
  const lines = [
    '[Unit]', `Description=${unitValue(spec.description, 'Description')}`, 'CollectMode=inactive-or-failed', '',
    '[Service]', `Type=${spec.type}`, `ExecStart=${execLine(spec.exec)}`,
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `Environment=${environmentWord(k, v)}`),
    'StandardInput=null', 'StandardOutput=journal',
    ...(l.memoryMaxBytes ? [`MemoryMax=${count(l.memoryMaxBytes, 'MemoryMax')}`] : []),
    ...(s.serviceRuntimeMaxSec ? [`RuntimeMaxSec=${count(s.serviceRuntimeMaxSec, 'RuntimeMaxSec')}s`] : []),
    ...(l.tasksMax ? [`TasksMax=${count(l.tasksMax, 'TasksMax')}`] : []),
    // CPUQuota='s `%` is its unit, not a specifier.
    ...(l.cpuQuotaPercent ? [`CPUQuota=${count(l.cpuQuotaPercent, 'CPUQuota')}%`] : []),
    ...settings(spec.sandbox ? sandboxSettings(spec.sandbox) : spec.noNewPrivileges ? [['NoNewPrivileges', 'yes']] : []),
    // An exit the unit is started again after is a clean end here: the socket starts the program on the next connection.
    ...(spec.restartForceExitStatus?.length ? [`SuccessExitStatus=${spec.restartForceExitStatus.map((n) => count(n, 'SuccessExitStatus')).join(' ')}`] : []),
    '',
  ];
  for (const line of lines) if (line.length > 1024 * 1024 - 2) throw new UnitValueError('A unit setting is too long for a unit file');
  return lines.join('\n');
}

/** The unit files of a socket unit (spec.socket set): `NAME.socket`, and `NAME@.service` (accept) or `NAME.service`. */
export function renderSocketUnits(spec: UnitSpec): SocketUnitFiles {
  const s = spec.socket;
  if (!s) throw new Error(`unit ${spec.name} has no socket`);
  // No `@`: an Accept=yes socket's services are instances of the template named by what precedes its first `@`.
  if (!/^[A-Za-z0-9:_.-]{1,200}$/.test(spec.name)) throw new UnitValueError(`${JSON.stringify(spec.name.slice(0, 64))} cannot name a socket unit`);
  return {
    socket: { file: `${spec.name}.socket`, text: socketText(spec, s) },
    service: { file: s.accept ? `${spec.name}@.service` : `${spec.name}.service`, text: serviceText(spec, s) },
  };
}
