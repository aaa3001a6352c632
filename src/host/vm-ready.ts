/**
 * The main process of a VM unit: `vm-ready.js READY_SOCKET -- qemu-system-x86_64 ...` (microvm) or
 * `vm-ready.js --qmp QMP_SOCKET -- qemu-system-x86_64 ...` (q35). It runs QEMU (its console on our stdout, which the
 * unit manager keeps), passes SIGTERM on to QEMU and ends with QEMU's exit status. It tells the unit manager READY=1
 * (sd_notify) when the guest says `READY=1` on its virtio-serial readiness port (a Linux guest of ours), or, with
 * --qmp, when QEMU reports the machine running (any guest: firmware, installers, Windows).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import unixDgram from 'unix-dgram';
import { Qmp } from './qmp.js';

const argv = process.argv.slice(2);
const byQmp = argv[0] === '--qmp';
const [readyPath, sep, file, ...args] = byQmp ? argv.slice(1) : argv;
if (!readyPath || sep !== '--' || !file) {
  process.stderr.write('usage: vm-ready.js (READY_SOCKET | --qmp QMP_SOCKET) -- COMMAND [ARGS...]\n');
  process.exit(2);
}

function notify(state: string): void {
  const target = process.env.NOTIFY_SOCKET;
  if (!target) return;
  const sock = unixDgram.createSocket('unix_dgram');
  const msg = Buffer.from(state);
  sock.send(msg, 0, msg.length, target.startsWith('@') ? `\0${target.slice(1)}` : target);
  sock.close();
}

/** Ask QEMU until it answers that the machine runs, then leave the monitor to others (it takes one client). */
async function watchQmp(qmpPath: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const qmp = await Qmp.connect(qmpPath, 2000);
      const st = await qmp.execute<{ status: string; running: boolean }>('query-status').finally(() => qmp.close());
      if (st.running) {
        notify(`READY=1\nMAINPID=${process.pid}\nSTATUS=machine running`);
        return;
      }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (!byQmp) rmSync(readyPath, { force: true });
let ready = false;
const server = createServer((conn) => {
  let buf = '';
  conn.on('data', (d: Buffer) => {
    buf = (buf + d.toString()).slice(-4096);
    if (!ready && /(^|\n)READY=1(\n|$)/.test(buf)) {
      ready = true;
      notify(`READY=1\nMAINPID=${process.pid}\nSTATUS=guest booted`);
    }
  });
  conn.on('error', () => undefined);
});
const begin = () => {
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
