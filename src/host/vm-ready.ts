/**
 * The main process of a VM unit: `vm-ready.js READY_SOCKET -- qemu-system-x86_64 ...` (microvm) or
 * `vm-ready.js --qmp QMP_SOCKET -- qemu-system-x86_64 ...` (q35). It runs QEMU (its console on our stdout, which the
 * unit manager keeps), passes SIGTERM on to QEMU and ends with QEMU's exit status. It tells the unit manager (sd_notify)
 * READY=1 and the boot's STATUS= as the guest protocol says (guest-boot.ts) from the lines the guest writes on its
 * virtio-serial readiness port (a Linux guest of ours: `READY=1` with `X_PCLOUD_BOOT=initializing`, later
 * `X_PCLOUD_BOOT=ok` or `impaired`; `READY=1` alone, an image from before the protocol: ok at once), or, with --qmp,
 * READY=1 and STATUS=ok when QEMU reports the machine running (any guest: firmware, installers, Windows; its health is
 * QEMU's run state).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { BootState, MAX_GUEST_MESSAGE, parseGuest } from './guest-boot.js';
import { notifier } from './sd-notify.js';
import { Qmp } from './qmp.js';

const argv = process.argv.slice(2);
const byQmp = argv[0] === '--qmp';
const [readyPath, sep, file, ...args] = byQmp ? argv.slice(1) : argv;
if (!readyPath || sep !== '--' || !file) {
  process.stderr.write('usage: vm-ready.js (READY_SOCKET | --qmp QMP_SOCKET) -- COMMAND [ARGS...]\n');
  process.exit(2);
}

const toManager = notifier(process.env.NOTIFY_SOCKET);
const notify = (msg: string) => toManager(msg.startsWith('READY=1') ? `${msg}\nMAINPID=${process.pid}` : msg);

/** Ask QEMU until it answers that the machine runs, then leave the monitor to others (it takes one client). */
async function watchQmp(qmpPath: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const qmp = await Qmp.connect(qmpPath, 2000);
      const st = await qmp.execute<{ status: string; running: boolean }>('query-status').finally(() => qmp.close());
      if (st.running) {
        notify('READY=1\nSTATUS=ok');
        return;
      }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (!byQmp) rmSync(readyPath, { force: true });
const boot = new BootState(notify);
const server = createServer((conn) => {
  // The complete lines of each read are one message (the guest writes a group of lines at once); a line longer than
  // the bound is dropped.
  let partial = '';
  conn.on('data', (d: Buffer) => {
    const text = partial + d.toString('latin1');
    const end = text.lastIndexOf('\n');
    partial = text.slice(end + 1);
    if (partial.length > MAX_GUEST_MESSAGE) partial = '';
    if (end >= 0) boot.guest(parseGuest(text.slice(0, end).slice(-MAX_GUEST_MESSAGE)));
  });
  conn.on('error', () => undefined);
});
const begin = () => {
  boot.begin();
  // The console's first line says how the VM runs (GetConsoleOutput shows it).
  const accel = args[args.indexOf('-accel') + 1] ?? '?';
  const machine = (args[args.indexOf('-M') + 1] ?? '?').split(',')[0];
  process.stdout.write(`pcloud: ${file} -M ${machine}, ${accel === 'kvm' ? 'KVM' : 'TCG (software emulation)'}\r\n`);
  const qemu = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => qemu.kill(sig === 'SIGHUP' ? 'SIGTERM' : sig));
  qemu.on('exit', (code, signal) => {
    server.close();
    if (!byQmp) rmSync(readyPath, { force: true });
    process.exit(code ?? (signal ? 128 + 15 : 1));
  });
  if (byQmp) void watchQmp(readyPath);
};
if (byQmp) begin();
else server.listen(readyPath, begin);
