/**
 * How soon the systemd unit manager sees a unit it started become active, pushed by systemd over the system bus and
 * polled with `systemctl show` (the bus out of reach: what the manager did before), inside the systemd test node; and
 * how many commands it runs while idle. `node dist/bench/unit-watch.js` on the host boots the node, runs itself inside
 * it (`inside`) and writes bench/results/unit-watch.json. Figures, not assertions.
 *
 * The unit is a Type=notify service whose main process says READY=1 after 300 ms: "seen" is the time from systemd
 * entering `active` (its ActiveEnterTimestampMonotonic) to the manager's listener being told (CLOCK_MONOTONIC both);
 * "start" is from start() being called to the listener told `active`.
 */
import { mkdirSync } from 'node:fs';
import { output, recordCommands, type CommandRecord } from '../src/host/exec.js';
import { SystemdUnitManager } from '../src/host/units/systemd.js';
import { SYSTEM_BUS_SOCKET } from '../src/host/units/systemd-bus.js';
import type { UnitStatus } from '../src/host/units/types.js';
import { bootNode, ROOT } from '../test/host/node.js';
import { round, summary, writeResult } from './lib.js';

const READY_AFTER = `import os, socket, time
time.sleep(0.3)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
p = os.environ['NOTIFY_SOCKET']
s.connect('\\0' + p[1:] if p.startswith('@') else p)
s.send(b'READY=1')
time.sleep(60)`;

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function measure(mode: 'push' | 'poll', runs: number) {
  const data = `/var/lib/pcloud-bench-watch/${mode}`;
  mkdirSync(data, { recursive: true });
  const m = new SystemdUnitManager(data, '/run/systemd/system', mode === 'push' ? SYSTEM_BUS_SOCKET : '/nonexistent/bus');
  await m.init(['pcloud-bw-']);
  const seen: number[] = [];
  const start: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const name = `pcloud-bw-${mode}-${i}`;
      const active = new Promise<number>((resolve) => {
        const off = m.onChange((st: UnitStatus) => {
          if (st.name === name && st.state === 'active') {
            off();
            resolve(monotonicUs());
          }
        });
      });
      const t0 = monotonicUs();
      await m.start({ name, description: 'bench unit-watch', type: 'notify', exec: ['/usr/bin/python3', '-c', READY_AFTER], startTimeoutSec: 10, stopTimeoutSec: 5 });
      const told = await active;
      const entered = Number(await output('systemctl', ['show', '-p', 'ActiveEnterTimestampMonotonic', '--value', `${name}.service`]));
      seen.push((told - entered) / 1000);
      start.push((told - t0) / 1000);
      await m.stop(name);
      await m.remove(name);
    }
    // Idle, one unit active and watched: the commands the manager runs in 5 s.
    const name = `pcloud-bw-${mode}-idle`;
    await m.start({ name, description: 'bench unit-watch idle', type: 'simple', exec: ['/bin/sleep', '60'], startTimeoutSec: 10, stopTimeoutSec: 5 });
    await new Promise((r) => setTimeout(r, 1000));
    const commands: CommandRecord[] = [];
    const stop = recordCommands(commands);
    await new Promise((r) => setTimeout(r, 5000));
    stop();
    await m.stop(name);
    await m.remove(name);
    return { seenMs: summary(seen), startToSeenMs: summary(start), idleCommandsIn5s: commands.length };
  } finally {
    m.close();
  }
}

async function inside(runs: number) {
  const poll = await measure('poll', runs);
  const push = await measure('push', runs);
  return { runs, poll, push, seenP50Ratio: round(push.seenMs.p50 / poll.seenMs.p50, 3) };
}

if (process.argv[2] === 'inside') {
  // The manager's poll timer does not keep a process alive (the server's listener does): this does here.
  setInterval(() => undefined, 60_000);
  const r = await inside(Number(process.env.BENCH_RUNS ?? 10));
  console.log(JSON.stringify(r));
  process.exit(0);
} else {
  const node = await bootNode({ binds: [[ROOT, '/project']] });
  try {
    const res = await node.exec(['/usr/local/bin/node', 'dist/bench/unit-watch.js', 'inside'], {
      cwd: '/project', env: { BENCH_RUNS: process.env.BENCH_RUNS ?? '10', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const line = res.out.split('\n').find((l) => l.startsWith('{'));
    if (res.code !== 0 || !line) throw new Error(`unit-watch inside the node failed:\n${res.out}`);
    console.log(line);
    console.log('written to', writeResult('unit-watch', JSON.parse(line)));
  } finally {
    await node.stop();
  }
}
