/**
 * The main process of a VM unit: `vm-ready.js READY_SOCKET -- qemu-system-x86_64 ...`. It listens on the socket the
 * guest's virtio-serial readiness port connects to, runs QEMU (its console on our stdout, which the unit manager
 * keeps), turns the guest's `READY=1` into sd_notify READY=1 for the unit manager, passes SIGTERM on to QEMU and ends
 * with QEMU's exit status.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import unixDgram from 'unix-dgram';

const [readyPath, sep, file, ...args] = process.argv.slice(2);
if (!readyPath || sep !== '--' || !file) {
  process.stderr.write('usage: vm-ready.js READY_SOCKET -- COMMAND [ARGS...]\n');
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

rmSync(readyPath, { force: true });
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
server.listen(readyPath, () => {
  // The console's first line says how the VM runs (GetConsoleOutput shows it).
  const accel = args[args.indexOf('-accel') + 1] ?? '?';
  const machine = (args[args.indexOf('-M') + 1] ?? '?').split(',')[0];
  process.stdout.write(`pcloud: ${file} -M ${machine}, ${accel === 'kvm' ? 'KVM' : 'TCG (software emulation)'}\r\n`);
  const qemu = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => qemu.kill(sig === 'SIGHUP' ? 'SIGTERM' : sig));
  qemu.on('exit', (code, signal) => {
    server.close();
    rmSync(readyPath, { force: true });
    process.exit(code ?? (signal ? 128 + 15 : 1));
  });
});
