/**
 * The systemd manager's bus: unit object paths, the D-Bus messages systemd pushes (PropertiesChanged, UnitRemoved,
 * NameOwnerChanged) and asks answered (GetAll), against a stand-in bus speaking the real wire protocol
 * (test/support/fake-systemd-bus.ts); then the manager on it, with systemctl and systemd-run as stand-ins on PATH.
 * The node test (test/host/node.test.ts) runs it against real systemd and dbus-daemon.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemdBus, propsOf, unitIdOfPath, unitPath, type SystemdBusEvents, type UnitProps } from '../../src/host/units/systemd-bus.js';
import { SystemdUnitManager } from '../../src/host/units/systemd.js';
import { recordCommands, type CommandRecord } from '../../src/host/exec.js';
import type { UnitStatus } from '../../src/host/units/types.js';
import { FakeSystemdBus, unitObjectPath } from '../support/fake-systemd-bus.js';
import { HOSTILE, NUL } from '../support/hostile.js';

const dir = mkdtempSync(join(tmpdir(), 'pcloud-systemd-bus-'));
const path = process.env.PATH;
const SERVICE = 'org.freedesktop.systemd1.Service';
const UNIT = 'org.freedesktop.systemd1.Unit';

beforeAll(() => {
  for (const cmd of ['systemctl', 'systemd-run']) {
    writeFileSync(join(dir, cmd), '#!/bin/sh\nexit 0\n');
    chmodSync(join(dir, cmd), 0o755);
  }
  process.env.PATH = `${dir}:${path}`;
});
afterAll(() => {
  process.env.PATH = path;
  rmSync(dir, { recursive: true, force: true });
});

/** Wait for a condition that a message on the socket brings about (no clock: it is checked on every turn). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

describe('unit object paths', () => {
  it('are the ones systemd gives (every byte but letters, and a leading digit, as _xx)', () => {
    expect(unitPath('dbus.service')).toBe('/org/freedesktop/systemd1/unit/dbus_2eservice');
    expect(unitPath('probe-x.service')).toBe('/org/freedesktop/systemd1/unit/probe_2dx_2eservice');
    expect(unitPath('pcloud-instance@i-0123456789abcdef0.service'))
      .toBe('/org/freedesktop/systemd1/unit/pcloud_2dinstance_40i_2d0123456789abcdef0_2eservice');
    expect(unitPath('1x.socket')).toBe('/org/freedesktop/systemd1/unit/_31x_2esocket');
    expect(unitPath('')).toBe('/org/freedesktop/systemd1/unit/_');
  });

  it('name their unit back, whatever the name, and nothing for any other path', () => {
    for (const id of ['a_b.service', 'x/y', 'é.service', '_2e', NUL, ...Object.values(HOSTILE)]) {
      expect(unitPath(id), JSON.stringify(id).slice(0, 40)).toBe(unitObjectPath(id));
      expect(unitIdOfPath(unitPath(id))).toBe(id);
    }
    for (const p of ['/org/freedesktop/systemd1', '/org/freedesktop/systemd1/unit', '/org/freedesktop/systemd1/unit/', '/org/freedesktop/systemd1/job/12',
      '/org/freedesktop/systemd1/unit/a/b']) {
      expect(unitIdOfPath(p)).toBeUndefined();
    }
  });

  it('properties come out as systemctl show prints them; arrays and structs are left out', () => {
    const s = (v: unknown) => [[{ type: 's', child: [] }], [v]];
    expect(propsOf([['ActiveState', s('active')], ['MainPID', s(42)], ['Delegate', s(true)], ['Job', s([3, '/j/3'])], ['Names', s(['a', 'b'])], ['bad'], 7]))
      .toEqual(new Map([['ActiveState', 'active'], ['MainPID', '42'], ['Delegate', 'yes'], ['Job', '3']]));
    expect(propsOf('nope')).toEqual(new Map());
  });
});

describe('systemd over a bus', () => {
  let fake: FakeSystemdBus;
  let n = 0;
  beforeEach(async () => {
    fake = new FakeSystemdBus(join(dir, `bus-${++n}`));
    await fake.listen();
  });
  afterEach(async () => { await fake.stop(); });

  function recorder() {
    const seen: string[] = [];
    const events: SystemdBusEvents = {
      change: (id: string, p: UnitProps) => seen.push(`${id} ${p.get('ActiveState')} ${p.get('Result') ?? '-'} ${p.get('MainPID') ?? '-'}`),
      removed: (id: string) => seen.push(`${id} removed`),
      closed: (reason: string) => seen.push(`closed: ${reason}`),
    };
    return { seen, events };
  }

  it('subscribes: match rules for the unit signals and for systemd changing hands, then Subscribe', async () => {
    const { events } = recorder();
    const bus = await SystemdBus.connect({ socket: fake.path, follows: () => true, events });
    try {
      expect(fake.calls.filter((c) => c.startsWith('org.freedesktop.DBus.AddMatch')).join('\n')).toMatch(
        /NameOwnerChanged',arg0='org.freedesktop.systemd1'[\s\S]*PropertiesChanged',path_namespace='\/org\/freedesktop\/systemd1\/unit'[\s\S]*member='UnitRemoved'/);
      expect(fake.calls.at(-1)).toBe('org.freedesktop.systemd1.Manager.Subscribe /org/freedesktop/systemd1');
    } finally {
      bus.close();
    }
  });

  it("pushes a followed unit's state when its Unit interface changes, its type's properties merged in; others are not told", async () => {
    const { seen, events } = recorder();
    const bus = await SystemdBus.connect({ socket: fake.path, follows: (id) => id.startsWith('pcloud-'), events });
    try {
      const p = unitPath('pcloud-a.service');
      fake.propertiesChanged(p, SERVICE, { MainPID: 7, Result: 'success', StatusText: '' });
      fake.propertiesChanged(unitPath('other.service'), UNIT, { ActiveState: 'active' });
      fake.propertiesChanged(p, UNIT, { ActiveState: 'activating', SubState: 'start' });
      fake.propertiesChanged(p, SERVICE, { MainPID: 7, Result: 'success' });
      fake.propertiesChanged(p, UNIT, { ActiveState: 'active', SubState: 'running' });
      // A signal from anyone but systemd is not systemd's (the bus delivers signals addressed to us whatever the rules).
      fake.propertiesChanged(p, UNIT, { ActiveState: 'failed' }, ':1.99');
      fake.propertiesChanged(p, SERVICE, { MainPID: 0, Result: 'exit-code' });
      fake.propertiesChanged(p, UNIT, { ActiveState: 'failed', SubState: 'failed' });
      fake.unitRemoved('pcloud-a.service', p);
      fake.unitRemoved('other.service', unitPath('other.service'));
      await until(() => seen.length >= 4);
      expect(seen).toEqual(['pcloud-a.service activating success 7', 'pcloud-a.service active success 7', 'pcloud-a.service failed exit-code 0',
        'pcloud-a.service removed']);
    } finally {
      bus.close();
    }
  });

  it("asks a unit's state with GetAll on its Unit and its type's interface", async () => {
    fake.units.set('pcloud-b.socket', { LoadState: 'loaded', ActiveState: 'active', Result: 'success' });
    const bus = await SystemdBus.connect({ socket: fake.path, follows: () => false, events: recorder().events });
    try {
      expect(await bus.properties('pcloud-b.socket')).toEqual(new Map([['LoadState', 'loaded'], ['ActiveState', 'active'], ['Result', 'success']]));
      expect(fake.calls.filter((c) => c.includes('GetAll'))).toEqual([
        `org.freedesktop.DBus.Properties.GetAll ${unitObjectPath('pcloud-b.socket')} org.freedesktop.systemd1.Unit`,
        `org.freedesktop.DBus.Properties.GetAll ${unitObjectPath('pcloud-b.socket')} org.freedesktop.systemd1.Socket`,
      ]);
      expect((await bus.properties('pcloud-none.service')).get('LoadState')).toBe('not-found');
    } finally {
      bus.close();
    }
  });

  it('says it is closed when the bus goes, or when systemd changes hands (re-executed: our subscription is gone)', async () => {
    const a = recorder();
    const first = await SystemdBus.connect({ socket: fake.path, follows: () => true, events: a.events });
    fake.drop();
    await until(() => a.seen.length > 0);
    expect(a.seen).toEqual(['closed: the bus closed the connection']);
    expect(first.open).toBe(false);
    await expect(first.properties('x.service')).rejects.toThrow(/closed/);

    const b = recorder();
    const second = await SystemdBus.connect({ socket: fake.path, follows: () => true, events: b.events });
    fake.ownerChanged(':1.77');
    await until(() => b.seen.length > 0);
    expect(b.seen).toEqual(['closed: systemd left the bus']);
    expect(second.open).toBe(false);
  });

  it('fails to connect where there is no bus, or no answer; a call in flight fails when the bus goes', async () => {
    const { seen, events } = recorder();
    await expect(SystemdBus.connect({ socket: join(dir, 'no-bus'), follows: () => true, events })).rejects.toThrow(/ENOENT/);
    fake.mute = true;
    await expect(SystemdBus.connect({ socket: fake.path, follows: () => true, events, timeoutMs: 50 })).rejects.toThrow(/no answer/);
    fake.mute = false;
    const bus = await SystemdBus.connect({ socket: fake.path, follows: () => true, events });
    fake.mute = true;
    const asked = bus.properties('x.service');
    await until(() => fake.calls.some((c) => c.includes('GetAll')));
    fake.drop();
    await expect(asked).rejects.toThrow(/closed/);
    expect(seen).toEqual(['closed: the bus closed the connection']);
  });
});

describe('the systemd manager on the bus', () => {
  let fake: FakeSystemdBus;
  let n = 0;
  const spec = { name: 'pcloud-t-bus', description: 'bus test', exec: ['/bin/true'], type: 'simple' as const, startTimeoutSec: 5, stopTimeoutSec: 5 };
  const p = unitPath('pcloud-t-bus.service');
  beforeEach(async () => {
    fake = new FakeSystemdBus(join(dir, `mbus-${++n}`));
    await fake.listen();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await fake.stop();
  });

  async function manager(socket = fake.path) {
    const m = new SystemdUnitManager(join(dir, 'data'), join(dir, 'system'), socket);
    await m.init(['pcloud-t-']);
    const told: string[] = [];
    m.onChange((s: UnitStatus) => told.push(`${s.name} ${s.state} ${s.result ?? '-'}`));
    const commands: CommandRecord[] = [];
    const stop = recordCommands(commands);
    return { m, told, commands, done: () => { stop(); m.close(); } };
  }

  it('tells each change of a unit it started as systemd pushes it, once; asks its state over the bus; runs nothing while idle', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const { m, told, commands, done } = await manager();
    try {
      await m.start(spec);
      expect(commands.map((c) => c.file)).toEqual(['systemd-run']);
      // Made and its start job queued: inactive as yet, which is no end.
      fake.propertiesChanged(p, SERVICE, { MainPID: 0, Result: 'success' });
      fake.propertiesChanged(p, UNIT, { ActiveState: 'inactive', Job: [12, '/org/freedesktop/systemd1/job/12'] });
      fake.propertiesChanged(p, SERVICE, { MainPID: 9, Result: 'success' });
      fake.propertiesChanged(p, UNIT, { ActiveState: 'activating', Job: [12, '/org/freedesktop/systemd1/job/12'] });
      fake.propertiesChanged(p, SERVICE, { MainPID: 9, Result: 'success', StatusText: 'up' });
      fake.propertiesChanged(p, UNIT, { ActiveState: 'active', Job: [12, '/org/freedesktop/systemd1/job/12'] });
      fake.propertiesChanged(p, SERVICE, { MainPID: 9, Result: 'success', StatusText: 'still up' });
      fake.propertiesChanged(p, UNIT, { ActiveState: 'active', Job: [0, '/'] });
      fake.propertiesChanged(p, SERVICE, { MainPID: 0, Result: 'success' });
      fake.propertiesChanged(p, UNIT, { ActiveState: 'inactive', Job: [0, '/'] });
      fake.unitRemoved('pcloud-t-bus.service', p);
      await until(() => told.length >= 5);
      // A new status text is told too ('up', then 'still up': a guest's boot stages, guest-boot.ts); a job's end alone is not.
      expect(told).toEqual(['pcloud-t-bus activating success', 'pcloud-t-bus activating success', 'pcloud-t-bus active success', 'pcloud-t-bus active success', 'pcloud-t-bus inactive success']);

      fake.units.set('pcloud-t-bus.service', { LoadState: 'loaded', ActiveState: 'failed', Result: 'exit-code', ExecMainCode: 1, ExecMainStatus: 3 });
      expect(await m.status('pcloud-t-bus')).toMatchObject({ state: 'failed', result: 'exit-code', exitCode: 3 });
      expect(commands.map((c) => c.file)).toEqual(['systemd-run']);

      // Nothing is due, ever: no poll.
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(commands.map((c) => c.file)).toEqual(['systemd-run']);
    } finally {
      done();
    }
  });

  it('a unit garbage-collected after being told active is told inactive; the removal of the unit a new start replaces is not told', async () => {
    const { m, told, done } = await manager();
    try {
      await m.start(spec);
      fake.unitRemoved('pcloud-t-bus.service', p);
      fake.propertiesChanged(p, UNIT, { ActiveState: 'active' });
      fake.unitRemoved('pcloud-t-bus.service', p);
      await until(() => told.length >= 2);
      expect(told).toEqual(['pcloud-t-bus active -', 'pcloud-t-bus inactive success']);
    } finally {
      done();
    }
  });

  it('polls with systemctl where there is no bus', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { m, commands, done } = await manager(join(dir, 'no-bus'));
    try {
      await m.start(spec);
      const shows = () => commands.filter((c) => c.file === 'systemctl' && c.args[0] === 'show').length;
      for (let i = 1; i <= 3; i++) {
        await vi.advanceTimersByTimeAsync(1000);
        await until(() => shows() >= i);
      }
    } finally {
      done();
    }
  });

  it('polls while the bus is lost, and stops once it is back (subscribed again, the units read once)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { m, told, commands, done } = await manager();
    try {
      await m.start(spec);
      fake.drop();
      await until(() => fake.connected === 0);
      await vi.advanceTimersByTimeAsync(1);
      const shows = () => commands.filter((c) => c.file === 'systemctl' && c.args[0] === 'show').length;
      // The stand-in systemctl shows nothing: the transient unit counts as ended.
      await until(() => shows() > 0 && told.length > 0);
      expect(told).toEqual(['pcloud-t-bus inactive success']);
      const subscribed = fake.calls.filter((c) => c.includes('Subscribe')).length;
      await vi.advanceTimersByTimeAsync(5000);
      await until(() => fake.calls.filter((c) => c.includes('Subscribe')).length > subscribed && fake.calls.at(-1)!.includes('GetAll'));
      // Nothing is due any more: no poll.
      await until(() => vi.getTimerCount() === 0);
      fake.propertiesChanged(p, UNIT, { ActiveState: 'active' });
      await until(() => told.length >= 2);
      expect(told.at(-1)).toBe('pcloud-t-bus active -');
    } finally {
      done();
    }
  });
});
