/**
 * A function version's units are started and taken down one change at a time (functions.ts): invokes that come at
 * once to a cold function, an invoke that comes as another server's change is being followed (the routes' sync makes
 * sure of every function's units too: urls.ts), and a stop beside a start each find the units as the one before left
 * them. Before, the second start failed (its unit already running) and took down the first's; on a systemd node the
 * socket was left refusing connections while its unit said it listened. The unit manager here answers as the real ones do (a unit
 * already running cannot be started again; every call takes a moment), so that an interleaving is seen.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FunctionHost, functionUnitName, type FunctionUnitOptions } from '../../src/host/functions.js';
import { isFinal, type UnitSpec } from '../../src/host/units/types.js';
import { FakeUnits } from '../support/fake-host.js';
import { FAST_TIER } from '../support/tier.js';

const moment = () => new Promise((r) => setTimeout(r, 5));

/** As the real managers: each call takes a moment; starting a unit that runs is refused; a socket's path is made. */
class RealisticUnits extends FakeUnits {
  readonly stops: string[] = [];
  override async start(spec: UnitSpec): Promise<void> {
    await moment();
    const current = this.units.get(spec.name);
    if (current && !isFinal(current.state)) throw new Error(`unit ${spec.name} is already ${current.state}`);
    await super.start(spec);
    if (spec.socket) writeFileSync(spec.socket.listen, '');
    await moment();
  }
  override async stop(name: string) {
    await moment();
    this.stops.push(name);
    return super.stop(name);
  }
  override async status(name: string) {
    await moment();
    return super.status(name);
  }
}

const base = mkdtempSync(join(tmpdir(), 'pcloud-fn-serial-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const o: FunctionUnitOptions = {
  key: '111122223333-serial-latest', functionName: 'serial', version: '$LATEST', arn: 'arn:aws:lambda:us-east-1:111122223333:function:serial',
  runtime: 'python3.12', handler: 'app.handler', codeDir: join(base, 'code'), memoryMiB: 128, timeoutSec: 3,
  environment: {}, mode: 'per-request', idleSec: 60, region: 'us-east-1',
};
const unit = functionUnitName(o.key);

// ensure() writes the host's filter of handlers' traffic first (nft, root's): the real tiers run it.
describe.skipIf(FAST_TIER)('a function version\'s units, changed one at a time', () => {
  it('invokes that come at once to a cold function start its units once, and each is served', async () => {
    const units = new RealisticUnits();
    const host = new FunctionHost(units, join(base, 'a'), join(base, 'a/run'));
    await Promise.all([host.ensure(o), host.ensure(o), host.ensure(o)]);
    expect(units.started.map((s) => s.name)).toEqual([unit]);
    expect(units.stops).toEqual([]);
    expect((await units.status(unit))?.state).not.toMatch(/inactive|failed/);
  });

  it('another server\'s change followed (nginx\'s routes synced) as an invoke comes: the units end as the options say, running', async () => {
    const units = new RealisticUnits();
    const host = new FunctionHost(units, join(base, 'b'), join(base, 'b/run'), { concurrency: 10, cpuPercent: 100 });
    await host.ensure(o);
    host.recheck([o.key]);
    const reserved = { ...o, reservedConcurrency: 1 };
    await Promise.all([host.ensure(reserved), host.ensure(reserved)]);
    const running = units.units.get(unit);
    expect(running && !isFinal(running.state)).toBe(true);
    expect(running?.spec.exec).toContain('--concurrency=1');
    // Started twice in all: once as it was, once with the reserved concurrency.
    expect(units.started.map((s) => s.name)).toEqual([unit, unit]);
  });

  it('a stop and a start of the same version side by side: the later one wins, whole', async () => {
    const units = new RealisticUnits();
    const host = new FunctionHost(units, join(base, 'c'), join(base, 'c/run'));
    await host.ensure(o);
    host.recheck([o.key]);
    await Promise.all([host.stop(o.key), host.ensure(o)]);
    const running = units.units.get(unit);
    expect(running && !isFinal(running.state)).toBe(true);
    await Promise.all([host.ensure(o), host.stop(o.key)]);
    expect(units.units.has(unit)).toBe(false);
  });

  it('an invoke with the options from before a change, still starting as the change is followed: the next with the change\'s options starts them as it says', async () => {
    const units = new RealisticUnits();
    const host = new FunctionHost(units, join(base, 'd'), join(base, 'd/run'), { concurrency: 10, cpuPercent: 100 });
    await host.ensure(o);
    host.recheck([o.key]);
    const stale = host.ensure(o);
    host.recheck([o.key]);
    await Promise.all([stale, host.ensure({ ...o, reservedConcurrency: 1 })]);
    expect(units.units.get(unit)?.spec.exec).toContain('--concurrency=1');
    // And an invoke that read the options before the change, coming after: its own options checked, not trusted.
    await host.ensure(o);
    expect(units.units.get(unit)?.spec.exec).toContain('--concurrency=10');
  });

  it('a renewal of its session asked before the version stopped (the renewer minting it meanwhile) writes nothing back', async () => {
    const units = new RealisticUnits();
    const host = new FunctionHost(units, join(base, 'e'), join(base, 'e/run'));
    const session = (id: string) => ({ accessKeyId: id, secretAccessKey: 's', sessionToken: 't', expiration: new Date(Date.now() + 3_600_000) });
    await host.ensure({ ...o, credentials: session('ASIAONE') });
    expect(existsSync(host.credentialsFile(o.key))).toBe(true);
    await host.stop(o.key);
    await host.renewCredentials(o.key, session('ASIATWO'));
    expect(existsSync(join(host.credentialsFile(o.key), '..'))).toBe(false);
    // Started again: written again, and renewed.
    await host.ensure({ ...o, credentials: session('ASIATHREE') });
    await host.renewCredentials(o.key, session('ASIAFOUR'));
    expect(existsSync(host.credentialsFile(o.key))).toBe(true);
  });
});
