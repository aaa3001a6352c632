/**
 * Instance events over the wire (the SDK, a fake host): RunInstances, the unit's readiness and the guest's word on its
 * boot, StopInstances, StartInstances, TerminateInstances, a launch that fails and a unit that fails each record what
 * happened, with the state before and the reason; DescribeInstanceStatus has no Events (EC2's are scheduled ones, and
 * pcloud schedules none); the events of a swept instance go with it. And `pcloud events` (the compiled CLI: run
 * `npm run build` first) on the running server's data dir: the lines, --instance, --since, and --follow until Ctrl-C.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import {
  DescribeInstanceStatusCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { instances } from '../../src/db/tables.js';
import { startApi, until, type TestApi } from '../support/api.js';

const CLI = join(new URL('../../', import.meta.url).pathname, 'dist/src/cli/main.js');

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

async function run(): Promise<string> {
  const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  return res.Instances![0]!.InstanceId!;
}

/** The instance's events as [kind, previous, code, reason]. */
async function eventsOf(id: string): Promise<[string, string | null, string, string][]> {
  return (await api.cloud.events.list({ instanceId: id, after: 0 })).map((e) => [e.kind, e.previous, e.code, e.message]);
}

/** Wait until the instance has `n` events; they. */
const waitEvents = (id: string, n: number) => until(async () => { const e = await eventsOf(id); return e.length >= n && e; });

const state = async (id: string) => (await api.cloud.instances.row(id))?.state;

describe('instance events', () => {
  it('run, running, status ok; stop and start; terminate: each with the state before and the reason', async () => {
    const id = await run();
    await waitEvents(id, 3);
    await api.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state(id)) === 'stopped');
    await api.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state(id)) === 'running');
    await waitEvents(id, 8);
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state(id)) === 'terminated');
    const ok = ['status', null, 'ok', 'the instance runs (its image does not report its boot)'];
    expect(await eventsOf(id)).toEqual([
      ['state', null, 'pending', 'User initiated (RunInstances)'],
      ['state', 'pending', 'running', ''],
      ok,
      ['state', 'running', 'stopping', 'Client.UserInitiatedShutdown: User initiated shutdown'],
      ['state', 'stopping', 'stopped', ''],
      ['state', 'stopped', 'pending', 'User initiated (StartInstances)'],
      ['state', 'pending', 'running', ''],
      ok,
      ['state', 'running', 'shutting-down', 'Client.UserInitiatedShutdown: User initiated shutdown'],
      ['state', 'shutting-down', 'terminated', ''],
    ]);
    const all = await api.cloud.events.list({ instanceId: id, after: 0 });
    expect(new Set(all.map((e) => e.accountId))).toEqual(new Set(['111111111111']));
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
  });

  it('the guest\'s boot: initializing while it boots, then ok, or impaired; each once, with why', async () => {
    api.units.autoReady = false;
    try {
      const [a, b] = [await run(), await run()];
      for (const id of [a, b]) {
        const unit = `pcloud-instance@${id}`;
        await until(() => api.units.units.has(unit));
        api.units.say(unit, 'starting');
        api.units.say(unit, 'running');
        api.units.ready(unit);
        await until(async () => (await state(id)) === 'running');
      }
      api.units.say(`pcloud-instance@${a}`, 'ok');
      api.units.say(`pcloud-instance@${a}`, 'ok');
      api.units.say(`pcloud-instance@${b}`, 'impaired');
      const [ea, eb] = [await waitEvents(a, 4), await waitEvents(b, 4)];
      expect(ea.slice(1)).toEqual([
        ['state', 'pending', 'running', ''],
        ['status', null, 'initializing', "the guest's system is up; cloud-init and its user data are running"],
        ['status', 'initializing', 'ok', "the guest's boot is done"],
      ]);
      expect(eb.slice(2)).toEqual([
        ['status', null, 'initializing', "the guest's system is up; cloud-init and its user data are running"],
        ['status', 'initializing', 'impaired', "the guest's boot failed (cloud-init): its console output says why"],
      ]);
      await api.cloud.instances.idle();
      expect(await eventsOf(a)).toHaveLength(4);
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a, b] }));
    } finally {
      api.units.autoReady = true;
    }
  });

  it('a launch that fails: the failure with the tenant\'s reason (no host detail), then terminated', async () => {
    api.units.failNextStart = new Error('systemd-run: /secret/host/path exploded');
    const id = await run();
    await until(async () => (await state(id)) === 'terminated');
    const events = await eventsOf(id);
    expect(events.map(([kind, previous, code]) => [kind, previous, code])).toEqual([
      ['state', null, 'pending'], ['failure', null, 'launch-failed'], ['state', 'pending', 'terminated'],
    ]);
    expect(events[1]![3]).toMatch(/^Server\.InternalError: the host could not start the instance; launch it again/);
    expect(events[2]![3]).toBe(events[1]![3]);
    expect(JSON.stringify(events)).not.toContain('/secret/host/path');
  });

  it('a unit that fails while running: a failure, and the instance stopped; a clean guest shutdown is no failure', async () => {
    const [a, b] = [await run(), await run()];
    await until(async () => (await state(a)) === 'running' && (await state(b)) === 'running');
    api.units.exit(`pcloud-instance@${a}`, 'exit-code');
    api.units.exit(`pcloud-instance@${b}`, 'success');
    await until(async () => (await state(a)) === 'stopped' && (await state(b)) === 'stopped');
    await api.cloud.instances.idle();
    expect((await eventsOf(a)).slice(3)).toEqual([
      ['failure', null, 'unit-failed', "Server.InternalError: the instance's unit failed (exit-code)"],
      ['state', 'running', 'stopped', "Server.InternalError: the instance's unit failed (exit-code)"],
    ]);
    expect((await eventsOf(b)).slice(3)).toEqual([
      ['state', 'running', 'stopped', 'Client.InstanceInitiatedShutdown: Instance initiated shutdown'],
    ]);
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a, b] }));
  });

  it('DescribeInstanceStatus answers no Events (scheduled ones only, and none is scheduled): its event filters match nothing', async () => {
    const id = await run();
    await until(async () => (await state(id)) === 'running');
    await waitEvents(id, 3);
    const res = await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }));
    expect(res.InstanceStatuses?.[0]?.InstanceStatus?.Status).toBe('ok');
    expect(res.InstanceStatuses?.[0]?.Events).toBeUndefined();
    for (const name of ['event.code', 'event.description']) {
      const f = await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], Filters: [{ Name: name, Values: ['*'] }] }));
      expect(f.InstanceStatuses ?? []).toEqual([]);
    }
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('go with their instance when it is swept (no longer listed)', async () => {
    const id = await run();
    await until(async () => (await state(id)) === 'running');
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state(id)) === 'terminated');
    expect((await eventsOf(id)).length).toBeGreaterThan(0);
    // Its hour is over.
    await api.cloud.db.update(instances).set({ terminatedAt: Date.now() - 2 * 3_600_000 }).where(eq(instances.id, id));
    expect(await api.cloud.instances.sweep()).toBeGreaterThan(0);
    expect(await eventsOf(id)).toEqual([]);
  });
});

describe('pcloud events', () => {
  /** The CLI, run asynchronously: the API it reads the database of serves in this process. */
  async function events(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [CLI, 'events', ...args, '--data', api.cloud.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    return { code, stdout, stderr };
  }
  async function pcloud(...args: string[]): Promise<string> {
    const res = await events(...args);
    expect(res.code, res.stderr).toBe(0);
    return res.stdout;
  }

  it('prints what happened, a line each; --instance, --since; refuses what is not an instance id or a time', async () => {
    const [id, other] = [await run(), await run()];
    await waitEvents(id, 3);
    await waitEvents(other, 3);
    const lines = (await pcloud('--instance', id)).trim().split('\n');
    expect(lines[0]).toMatch(/^TIME +INSTANCE +KIND +CODE +REASON$/);
    expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(1, 4))).toEqual([
      [id, 'state', 'pending'], [id, 'state', 'pending->running'], [id, 'status', 'ok'],
    ]);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z +i-[0-9a-f]+ +state +pending +User initiated \(RunInstances\)$/);
    // Earlier tests' terminations are recorded by their teardowns: all in before the two reads compared.
    await api.cloud.instances.idle();
    const all = (await pcloud()).trim().split('\n');
    expect(all.length).toBeGreaterThan(lines.length);
    expect((await pcloud('--since', '2h')).trim().split('\n')).toEqual(all);
    expect((await pcloud('--since', new Date(Date.now() + 3_600_000).toISOString())).trim().split('\n')).toEqual([lines[0]]);
    for (const bad of [['--instance', 'vol-0123'], ['--since', 'yesterday']]) {
      const res = await events(...bad);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(new RegExp(`^pcloud: ${bad[0]}: `));
    }
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id, other] }));
  });

  it('--follow prints new events as they come, and ends cleanly on Ctrl-C', async () => {
    const child = spawn(process.execPath, [CLI, 'events', '--follow', '--data', api.cloud.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(() => out.startsWith('TIME'), 30_000);
      const id = await run();
      await until(() => out.includes(`${id}  status   ok`), 30_000, 100);
      const mine = out.split('\n').filter((l) => l.includes(id));
      expect(mine.map((l) => l.split(/ {2,}/)[3])).toEqual(['pending', 'pending->running', 'ok']);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(err).toBe('');
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
