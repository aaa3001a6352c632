/**
 * The direct unit manager with real supervisors (compiled: run `npm run build` first) and real processes, no
 * containers: restart policies with backoff and a start limit, a killed supervisor noticed and its unit started again,
 * stop and remove whatever the moment (never a process left behind), cgroups of one data dir never shared with
 * another's, and host-wide ports refused when another program holds them.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { alive, startTicks } from '../../src/host/units/proc.js';
import { restartDelayMs } from '../../src/host/units/restart.js';
import { PortInUseError, portFree } from '../../src/host/ports.js';
import { isFinal, type UnitSpec, type UnitStatus } from '../../src/host/units/types.js';
import { waitFor } from '../support/wait.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-units-'));
const managers: DirectUnitManager[] = [];

function manager(runDir: string, revive = false): DirectUnitManager {
  const m = new DirectUnitManager(join(base, runDir), { revive });
  managers.push(m);
  return m;
}

/** Processes whose command line holds `marker` (zombies, which PID 1 here never reaps, are not alive). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmd = '';
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmd.split('\0').includes(marker) && alive(Number(pid))) out.push(Number(pid));
  }
  return out;
}

const until = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> =>
  waitFor(what, fn, timeoutMs);

const sleeper = (name: string, marker: string, extra: Partial<UnitSpec> = {}): UnitSpec => ({
  name, description: 'test', exec: ['sleep', marker], type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5, ...extra,
});

afterEach(async () => {
  for (const m of managers.splice(0)) {
    for (const u of await m.list('pcloud-t')) await m.remove(u.name);
    m.close();
  }
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('restartDelayMs', () => {
  const policy = { when: 'on-failure' as const, delaySec: 1, burst: 5, intervalSec: 60 };
  it('doubles the delay with each start inside the interval, capped at interval/burst', () => {
    expect(restartDelayMs(policy, [0], 0)).toBe(1000);
    expect(restartDelayMs(policy, [0, 1, 2], 2)).toBe(4000);
    expect(restartDelayMs(policy, [0, 1, 2, 3], 3)).toBe(8000);
    expect(restartDelayMs({ ...policy, intervalSec: 20 }, [0, 1, 2, 3], 3)).toBe(4000);
  });
  it('gives up at burst starts within the interval, and forgets starts older than it', () => {
    expect(restartDelayMs(policy, [0, 1, 2, 3, 4], 4)).toBeUndefined();
    expect(restartDelayMs(policy, [0, 1, 2, 3, 4], 60_004)).toBe(1000);
  });
});

describe('restart policy (the supervisor)', () => {
  it('starts a failing main process again with a growing delay, then gives up at the start limit', async () => {
    const m = manager('a');
    const starts = join(base, 'starts');
    const policy = { when: 'on-failure' as const, delaySec: 0.05, burst: 4, intervalSec: 60 };
    await m.start({
      name: 'pcloud-t-crash', description: 'test', type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5,
      exec: ['sh', '-c', `date +%s%N >> ${starts}; exit 3`], restart: policy,
    });
    const st = await until('the start limit', async () => {
      const s = await m.status('pcloud-t-crash');
      return s?.state === 'failed' && s;
    });
    expect(st).toMatchObject({ result: 'start-limit-hit', exitCode: 3, restarts: 3 });
    const times = readFileSync(starts, 'utf8').trim().split('\n').map((l) => Number(BigInt(l) / 1_000_000n));
    expect(times).toHaveLength(4);
    // Each restart waited at least its delay: 50, 100, 200 ms.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(50 * 2 ** (i - 1));
  });

  it('brings back a main process that was killed, and not one that was stopped', async () => {
    const m = manager('a');
    const marker = '4242.1';
    await m.start(sleeper('pcloud-t-killed', marker, { restart: { when: 'on-failure', delaySec: 0.05, burst: 5, intervalSec: 60 } }));
    const first = await until('active', async () => { const s = await m.status('pcloud-t-killed'); return s?.state === 'active' && s.mainPid; });
    process.kill(first, 'SIGKILL');
    const again = await until('a new main process', async () => {
      const s = await m.status('pcloud-t-killed');
      return s?.state === 'active' && s.mainPid !== first && s;
    });
    expect(again.restarts).toBe(1);
    expect(processesWith(marker)).toEqual([again.mainPid]);
    const stopped = await m.stop('pcloud-t-killed');
    expect(stopped).toMatchObject({ state: 'inactive', result: 'success' });
    expect(processesWith(marker)).toEqual([]);
  });

  it('a stop while it waits to restart ends the unit at once, and nothing starts later', async () => {
    const m = manager('a');
    const starts = join(base, 'starts-waiting');
    await m.start({
      name: 'pcloud-t-waiting', description: 'test', type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5,
      exec: ['sh', '-c', `echo >> ${starts}; exit 1`], restart: { when: 'on-failure', delaySec: 600, burst: 5, intervalSec: 6000 },
    });
    await until('waiting to restart', async () => (await m.status('pcloud-t-waiting'))?.restarts === 1);
    const st = await m.stop('pcloud-t-waiting');
    expect(st).toMatchObject({ state: 'inactive', result: 'success' });
    await until('its supervisor gone', async () => processesWith(join(base, 'a/units/pcloud-t-waiting')).length === 0);
    expect(readFileSync(starts, 'utf8')).toBe('\n');
  });

  it('does not restart a unit without a policy', async () => {
    const m = manager('a');
    await m.start(sleeper('pcloud-t-once', '4242.2'));
    const pid = await until('active', async () => { const s = await m.status('pcloud-t-once'); return s?.state === 'active' && s.mainPid; });
    process.kill(pid, 'SIGKILL');
    const st = await until('failed', async () => { const s = await m.status('pcloud-t-once'); return s?.state === 'failed' && s; });
    expect(st).toMatchObject({ result: 'signal', signal: 'SIGKILL' });
    expect(st.restarts).toBeUndefined();
  });
});

describe('a supervisor that died', () => {
  const supervisorOf = (name: string) => (JSON.parse(readFileSync(join(base, 'a/units', name, 'state.json'), 'utf8')) as { supervisorPid: number }).supervisorPid;

  it('is noticed, what it ran is taken down, and the unit is started again per its policy', async () => {
    const m = manager('a', true);
    await m.init();
    const events: UnitStatus[] = [];
    m.onChange((s) => events.push(s));
    const marker = '4242.3';
    await m.start(sleeper('pcloud-t-revived', marker, { restart: { when: 'on-failure', delaySec: 0.05, burst: 3, intervalSec: 60 } }));
    const main = await until('active', async () => { const s = await m.status('pcloud-t-revived'); return s?.state === 'active' && s.mainPid; });
    const sup = supervisorOf('pcloud-t-revived');
    process.kill(sup, 'SIGKILL');
    const again = await until('started again', async () => {
      const s = await m.status('pcloud-t-revived');
      return s?.state === 'active' && s.mainPid !== main && s;
    });
    expect(alive(main)).toBe(false);
    expect(processesWith(marker)).toEqual([again.mainPid]);
    expect(events.some((e) => e.result === 'supervisor-died')).toBe(true);

    // Killed again and again: it gives up at the start limit (3 starts), and nothing of it runs.
    process.kill(supervisorOf('pcloud-t-revived'), 'SIGKILL');
    const third = await until('started a third time', async () => {
      const s = await m.status('pcloud-t-revived');
      return s?.state === 'active' && s.mainPid !== again.mainPid && s;
    });
    process.kill(supervisorOf('pcloud-t-revived'), 'SIGKILL');
    const last = await until('the start limit', async () => {
      const s = await m.status('pcloud-t-revived');
      return s?.result === 'start-limit-hit' && s;
    });
    expect(last.state).toBe('failed');
    expect(alive(third.mainPid)).toBe(false);
    expect(processesWith(marker)).toEqual([]);
  });

  it('is reported as failed, its main process killed, for a unit without a policy', async () => {
    const m = manager('a', true);
    await m.init();
    const marker = '4242.4';
    await m.start(sleeper('pcloud-t-dead', marker));
    const main = await until('active', async () => { const s = await m.status('pcloud-t-dead'); return s?.state === 'active' && s.mainPid; });
    process.kill(supervisorOf('pcloud-t-dead'), 'SIGKILL');
    const st = await until('failed', async () => { const s = await m.status('pcloud-t-dead'); return s?.state === 'failed' && s; });
    expect(st.result).toBe('supervisor-died');
    await until('its main process gone', async () => !alive(main));
    expect(processesWith(marker)).toEqual([]);
  });

  it("leaves alone a process that holds its main process's pid now (a reboot, or a pid reused since)", async () => {
    const m = manager('reused', true);
    await m.init();
    // What a unit of the last boot left recorded: its supervisor gone, its main pid now another program's.
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    const dead = spawnSync('true').pid;
    const dir = join(base, 'reused', 'units', 'pcloud-t-lastboot');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(sleeper('pcloud-t-lastboot', '4242.5')));
    try {
      for (const mainTicks of [undefined, 1]) {
        writeFileSync(join(dir, 'state.json'), JSON.stringify({ name: 'pcloud-t-lastboot', state: 'active', supervisorPid: dead, mainPid: stranger.pid, mainTicks }));
        const st = await m.status('pcloud-t-lastboot');
        expect([st?.state, st?.result]).toEqual(['failed', 'supervisor-died']);
        expect(alive(stranger.pid)).toBe(true);
      }
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});

describe('a supervisor recorded without its start', () => {
  it('is not taken for whatever holds its pid now: the unit failed, the stranger is neither signalled nor killed', async () => {
    const m = manager('unticked', true);
    await m.init();
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    const dir = join(base, 'unticked', 'units', 'pcloud-t-unticked');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(sleeper('pcloud-t-unticked', '4242.6')));
    try {
      // A record of the last boot whose supervisor's start could not be read: its pid alone is anyone's by now.
      writeFileSync(join(dir, 'state.json'), JSON.stringify({ name: 'pcloud-t-unticked', state: 'active', supervisorPid: stranger.pid }));
      const st = await m.status('pcloud-t-unticked');
      expect([st?.state, st?.result]).toEqual(['failed', 'supervisor-died']);
      await m.stop('pcloud-t-unticked');
      expect(alive(stranger.pid)).toBe(true);
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});

describe('records of the last boot', () => {
  it("name no process once the host booted again: one holding a supervisor's pid and start ticks by chance is left alone", async () => {
    const runDir = join(base, 'lastboot');
    let boot = 'boot-a';
    const make = async () => {
      const m = new DirectUnitManager(runDir, { revive: true, bootId: async () => boot });
      managers.push(m);
      await m.init();
      return m;
    };
    const before = await make();
    // Ticks count from the kernel's boot: a process of the new boot may start at the same tick with the same pid.
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    const ticks = startTicks(stranger.pid!);
    const dir = join(runDir, 'units', 'pcloud-t-booted');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(sleeper('pcloud-t-booted', '4242.7')));
    writeFileSync(join(dir, 'state.json'), JSON.stringify({
      name: 'pcloud-t-booted', state: 'active', supervisorPid: stranger.pid, supervisorTicks: ticks, mainPid: stranger.pid, mainTicks: ticks,
    }));
    try {
      // In its own boot, the record is all anyone can go by.
      expect((await before.status('pcloud-t-booted'))?.state).toBe('active');
      boot = 'boot-b';
      const after = await make();
      const st = await after.status('pcloud-t-booted');
      expect([st?.state, st?.result]).toEqual(['failed', 'supervisor-died']);
      await after.stop('pcloud-t-booted');
      expect(alive(stranger.pid)).toBe(true);
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});

describe('stop and remove, whatever the moment', () => {
  it('a unit stopped right after start never leaves a process, many times over', async () => {
    const m = manager('a');
    for (let i = 0; i < 16; i++) {
      const marker = `5151.${i}`;
      const name = `pcloud-t-race-${i}`;
      const dir = join(base, 'a', 'units', name);
      // Four moments: stop while start() is in flight, right after it resolved, remove() alone, and a stop that
      // leaves the unit's directory (and spec) in place for a late supervisor to find.
      const starting = m.start(sleeper(name, marker));
      if (i % 4 === 0) await m.stop(name);
      await starting;
      if (i % 4 === 1 || i % 4 === 3) expect(isFinal((await m.stop(name))!.state)).toBe(true);
      if (i % 4 !== 3) {
        await m.remove(name);
        expect(existsSync(dir)).toBe(false);
      }
      // Its supervisor ends (it never started the process, or stopped it) and nothing of the unit runs.
      await until('its supervisor gone', async () => processesWith(dir).length === 0);
      expect(processesWith(marker)).toEqual([]);
    }
  });

  it('two starts of one unit at once: one is refused, one process runs', async () => {
    const m = manager('a');
    const spec = sleeper('pcloud-t-twice', '5151.99');
    const results = await Promise.allSettled([m.start(spec), m.start(spec)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    await until('active', async () => (await m.status('pcloud-t-twice'))?.state === 'active');
    expect(processesWith('5151.99')).toHaveLength(1);
  });

  it('a stop from another manager before the supervisor took the unit is honoured', async () => {
    const starter = manager('a');
    const other = manager('a');
    for (let i = 0; i < 5; i++) {
      const marker = `5252.${i}`;
      const name = `pcloud-t-cross-${i}`;
      const starting = starter.start(sleeper(name, marker)).catch((err: Error) => err);
      await until('the spec written', async () => existsSync(join(base, 'a', 'units', name, 'spec.json')));
      const st = await other.stop(name);
      expect(st?.state === 'inactive' || st?.state === 'failed').toBe(true);
      const started = await starting;
      expect(started).toBeUndefined();
      await other.remove(name);
      expect(processesWith(marker)).toEqual([]);
    }
  });
});

describe('two data dirs on one host', () => {
  it('run units of the same name in cgroups of their own: stopping one leaves the other running', async () => {
    const a = manager('a');
    const b = manager('b');
    await a.start(sleeper('pcloud-t-shared', '5353.1'));
    await b.start(sleeper('pcloud-t-shared', '5353.2'));
    const pidB = await until('b active', async () => { const s = await b.status('pcloud-t-shared'); return s?.state === 'active' && s.mainPid; });
    await until('a active', async () => (await a.status('pcloud-t-shared'))?.state === 'active');
    await a.stop('pcloud-t-shared');
    await a.remove('pcloud-t-shared');
    expect(processesWith('5353.1')).toEqual([]);
    expect(alive(pidB)).toBe(true);
    expect((await b.status('pcloud-t-shared'))?.state).toBe('active');
  });

  it('a host-wide port held by another program is refused with the port and the setting that moves it', async () => {
    const m = manager('a');
    const held: Server = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = (held.address() as { port: number }).port;
    try {
      const err = await m.start(sleeper('pcloud-t-port', '5454.1', { ports: [{ host: '127.0.0.1', port, setting: 'PCLOUD_TEST_PORT' }] }))
        .then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect(err?.message).toBe(`port ${port} on 127.0.0.1 is already in use by another program: stop it, or set PCLOUD_TEST_PORT to a free port`);
      expect(await m.status('pcloud-t-port')).toBeUndefined();
      expect(processesWith('5454.1')).toEqual([]);
    } finally {
      await new Promise((r) => held.close(r));
    }
    // Free again: it starts.
    await m.start(sleeper('pcloud-t-port', '5454.1', { ports: [{ host: '127.0.0.1', port, setting: 'PCLOUD_TEST_PORT' }] }));
    await until('active', async () => (await m.status('pcloud-t-port'))?.state === 'active');
  });

  it('a port held by another data dir\'s unit is refused as another server\'s, naming its unit', async () => {
    const a = manager('a');
    const b = manager('b');
    const held: Server = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = (held.address() as { port: number }).port;
    await new Promise((r) => held.close(r));
    const listener = (name: string): UnitSpec => ({
      name, description: 'test', type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5,
      exec: [process.execPath, '-e', `require('net').createServer().listen(${port}, '127.0.0.1')`, '5656.1'],
      ports: [{ host: '127.0.0.1', port, setting: 'PCLOUD_TEST_PORT' }],
    });
    await a.start(listener('pcloud-t-listener'));
    await until('listening', async () => !(await portFree('127.0.0.1', port)));
    const err = await b.start(listener('pcloud-t-listener')).then(() => undefined, (e: Error) => e);
    expect(err?.message).toBe(`port ${port} on 127.0.0.1 is already in use by another pcloud server (its pcloud-t-listener): stop it, or set PCLOUD_TEST_PORT to a free port`);
    expect(await b.status('pcloud-t-listener')).toBeUndefined();
  });
});

describe('a unit\'s status text', () => {
  it('is told when it changes (a guest\'s boot stages, sd_notify STATUS=), once per change', async () => {
    const m = manager('s');
    await m.init();
    const told: string[] = [];
    m.onChange((s) => { if (s.name === 'pcloud-t-status') told.push(`${s.state} ${s.statusText ?? '-'}`); });
    const go = join(base, 'status-go');
    const dgram = createRequire(import.meta.url).resolve('unix-dgram');
    // READY=1 and `running`; once `go` exists, `ok` twice (the second changes nothing).
    const program = [
      `const sock = require(${JSON.stringify(dgram)}).createSocket('unix_dgram');`,
      'const send = (t) => sock.send(Buffer.from(t), 0, Buffer.byteLength(t), process.env.NOTIFY_SOCKET);',
      "send('READY=1\\nSTATUS=running');",
      `const wait = setInterval(() => { if (require('fs').existsSync(${JSON.stringify(go)})) { clearInterval(wait); send('STATUS=ok'); send('STATUS=ok'); } }, 50);`,
      'setInterval(() => {}, 1000);',
    ].join('\n');
    await m.start({ name: 'pcloud-t-status', description: 'test', type: 'notify', startTimeoutSec: 10, stopTimeoutSec: 5, exec: [process.execPath, '-e', program, '7373.1'] });
    await until('running told', () => told.includes('active running'));
    writeFileSync(go, '');
    await until('ok told', () => told.includes('active ok'));
    expect((await m.status('pcloud-t-status'))?.statusText).toBe('ok');
    expect(told.filter((t) => t === 'active ok')).toHaveLength(1);
    expect(told.indexOf('active running')).toBeLessThan(told.indexOf('active ok'));
  });
});
