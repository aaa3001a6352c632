// A stand-in for systemd-nspawn in the container-ready tests (test double: test/ only). It sends what nspawn sends on
// NOTIFY_SOCKET (its leader's pid, and its STATUS), sends READY=1 when it gets SIGUSR1 (the container's init is
// ready), and exits with the status given as its argument on SIGTERM (133: a reboot), saying which signal it got.
import unixDgram from 'unix-dgram';

const sock = unixDgram.createSocket('unix_dgram');
const send = (text) => { const b = Buffer.from(text); sock.send(b, 0, b.length, process.env.NOTIFY_SOCKET); };
send(`STATUS=Container running.\nX_NSPAWN_LEADER_PID=${process.pid}\nMAINPID=1`);
process.on('SIGUSR1', () => send('READY=1'));
process.on('SIGTERM', () => {
  process.stdout.write('fake-nspawn: SIGTERM\n');
  process.exit(Number(process.argv[2] ?? 0));
});
process.stdout.write('fake-nspawn: up\n');
setInterval(() => undefined, 1000);
