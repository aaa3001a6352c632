/**
 * The main process of a container's unit, as vm-ready.ts is a VM's:
 *   `container-ready.js --notify NSPAWN_SOCKET [--guest GUEST_SOCKET] -- [nsenter ... --] systemd-nspawn ...`
 * It runs nspawn (its console on our stdout, which the unit manager keeps) with NOTIFY_SOCKET pointed at a datagram
 * socket of its own, passes SIGTERM, SIGINT and SIGHUP on to it, and ends with its exit status (133: the container
 * rebooted, and the unit manager starts it again). It tells the unit manager (sd_notify):
 *   - nspawn's X_NSPAWN_LEADER_PID (the container's init, whose namespaces the host enters);
 *   - READY=1 and STATUS= as the guest protocol says (guest-boot.ts): with --guest (an image that speaks it: it has
 *     /etc/pcloud/guest-protocol), GUEST_SOCKET is made here, mode 0666 (the container's root is an unprivileged host
 *     uid), bound by nspawn at /run/pcloud/notify, and the guest's READY=1 makes the unit ready; without it, the
 *     container's init's READY=1 (nspawn --notify-ready=yes) does, status ok at once, as before the protocol.
 * It stays in the unit's cgroup, above nspawn's (nspawn moves itself and the container below it, as under systemd's
 * own systemd-nspawn@.service), so the unit's limits hold for all of them; on a unified (v2) hierarchy it moves itself
 * below too (a cgroup holding processes cannot hand controllers to the ones below it).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import unixDgram from 'unix-dgram';
import { BootState, parseGuest } from './guest-boot.js';
import { notifier } from './sd-notify.js';

/** The wrapper's command line, as nspawn.ts builds it. */
export interface ReadyArgs {
  notify: string;
  guest?: string;
  command: string[];
}

export function parseArgs(argv: string[]): ReadyArgs | undefined {
  let notify: string | undefined;
  let guest: string | undefined;
  let i = 0;
  for (; i < argv.length && argv[i] !== '--'; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) return undefined;
    if (argv[i] === '--notify') notify = value;
    else if (argv[i] === '--guest') guest = value;
    else return undefined;
  }
  const command = argv.slice(i + 1);
  return notify && argv[i] === '--' && command.length ? { notify, guest, command } : undefined;
}

/** nspawn's own messages: its leader's pid is passed on (digits only); its READY=1 is the container's init's. */
export function parseNspawn(msg: Buffer): { leader?: string; ready: boolean } {
  const out: { leader?: string; ready: boolean } = { ready: false };
  for (const line of msg.toString('latin1').split('\n')) {
    if (line === 'READY=1') out.ready = true;
    else if (/^X_NSPAWN_LEADER_PID=[1-9][0-9]{0,9}$/.test(line)) out.leader = line.slice(line.indexOf('=') + 1);
  }
  return out;
}

/** On a unified hierarchy, into `supervisor` below the unit's cgroup (nspawn's own place there); elsewhere nothing. */
function leaveUnitRoot(): void {
  if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) return;
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    const own = line?.slice(3);
    if (!own || own === '/' || own.endsWith('/supervisor')) return;
    const dir = join('/sys/fs/cgroup', own, 'supervisor');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
  } catch { /* not delegated to us: nspawn copes as it does without us */ }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (!args) {
    process.stderr.write('usage: container-ready.js --notify NSPAWN_SOCKET [--guest GUEST_SOCKET] -- COMMAND [ARGS...]\n');
    process.exit(2);
  }
  const toManager = notifier(process.env.NOTIFY_SOCKET);
  const boot = new BootState(toManager);
  const speaks = args.guest !== undefined;

  const bindFresh = (path: string, mode: number, onMessage: (msg: Buffer) => void) => {
    // Root's only: the guest reaches its socket through the bind mount, never through this directory (nor may anyone
    // else on the host).
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    rmSync(path, { force: true });
    const sock = unixDgram.createSocket('unix_dgram', onMessage);
    sock.on('error', () => undefined);
    sock.bind(path);
    chmodSync(path, mode);
    return sock;
  };
  const fromNspawn = bindFresh(args.notify, 0o600, (msg) => {
    const m = parseNspawn(msg);
    if (m.leader) toManager(`X_NSPAWN_LEADER_PID=${m.leader}`);
    if (m.ready) boot.initReady(speaks);
  });
  const fromGuest = args.guest ? bindFresh(args.guest, 0o666, (msg) => boot.guest(parseGuest(msg))) : undefined;

  leaveUnitRoot();
  boot.begin();
  const [file, ...rest] = args.command as [string, ...string[]];
  const child = spawn(file, rest, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NOTIFY_SOCKET: args.notify } });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  const end = (code: number) => {
    for (const s of [fromNspawn, fromGuest]) try { s?.close(); } catch { /* closed */ }
    for (const p of [args.notify, args.guest]) if (p) rmSync(p, { force: true });
    process.exit(code);
  };
  child.on('error', (err) => {
    process.stderr.write(`container-ready: ${err.message}\n`);
    end(127);
  });
  child.on('exit', (code, signal) => end(code ?? 128 + (signal ? constants.signals[signal] : 0)));
}

// Imported (tests: parseArgs, parseNspawn) it does nothing; run, it runs.
if (process.argv[1]?.endsWith('/container-ready.js')) main();
