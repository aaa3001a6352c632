/**
 * Events (src/cloud/events.ts) on a real SQLite database: ordered by one counter, listed forward (after a seq, since a
 * time) or the latest, bounded to the last MAX_PER_INSTANCE of each instance, forgotten with their instance; the status
 * check last recorded since a state change; listeners told once committed, never of a rolled-back write. And the
 * terminal renderer of `pcloud events`: one line per event whatever the text, no control character reaching the terminal.
 */
import { describe, expect, it } from 'vitest';
import { Events, MAX_PER_INSTANCE, type InstanceEvent, type ToldEvent } from '../../src/cloud/events.js';
import { EVENTS_HEADER, eventLine, parseSince, terminalText } from '../../src/cli/events.js';
import { openDb } from '../../src/db/index.js';
import { afterCommit, write } from '../../src/db/store.js';
import { HOSTILE, NUL } from '../support/hostile.js';

const A = { id: 'i-0000000000000000a', accountId: '111111111111', runtime: 'container' };
const B = { id: 'i-0000000000000000b', accountId: '222222222222', runtime: 'microvm' };

function fresh() {
  const db = openDb(':memory:');
  return { db, events: new Events(db) };
}

describe('events', () => {
  it('are numbered in the order recorded and listed forward after a seq or since a time, or the latest', async () => {
    const { events } = fresh();
    await events.recordOne(A, { kind: 'state', code: 'pending', message: 'User initiated (RunInstances)' });
    await events.record([
      { of: A, event: { kind: 'state', code: 'running', previous: 'pending' } },
      { of: B, event: { kind: 'failure', code: 'launch-failed', message: 'Server.InternalError: no' } },
    ]);
    const all = await events.list();
    expect(all.map((e) => [e.seq, e.instanceId, e.kind, e.code, e.previous, e.message])).toEqual([
      [1, A.id, 'state', 'pending', null, 'User initiated (RunInstances)'],
      [2, A.id, 'state', 'running', 'pending', ''],
      [3, B.id, 'failure', 'launch-failed', null, 'Server.InternalError: no'],
    ]);
    expect(all.map((e) => e.accountId)).toEqual([A.accountId, A.accountId, B.accountId]);
    expect((await events.list({ after: 1 })).map((e) => e.seq)).toEqual([2, 3]);
    expect((await events.list({ instanceId: A.id })).map((e) => e.seq)).toEqual([1, 2]);
    expect((await events.list({ limit: 2 })).map((e) => e.seq)).toEqual([2, 3]);
    expect((await events.list({ since: Date.now() + 60_000 }))).toEqual([]);
    expect((await events.list({ since: all[0]!.time })).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(await events.lastSeq()).toBe(3);
  });

  it(`keep the last ${MAX_PER_INSTANCE} of each instance, and none of an instance forgotten`, async () => {
    const { events } = fresh();
    for (let i = 0; i < MAX_PER_INSTANCE + 30; i++) await events.recordOne(A, { kind: 'status', code: i % 2 ? 'ok' : 'initializing', message: `n${i}` });
    for (let i = 0; i < 3; i++) await events.recordOne(B, { kind: 'state', code: 'running' });
    const ofA = await events.list({ instanceId: A.id, after: 0, limit: 10_000 });
    expect(ofA).toHaveLength(MAX_PER_INSTANCE);
    expect(ofA[0]!.message).toBe('n30');
    expect(ofA.at(-1)!.message).toBe(`n${MAX_PER_INSTANCE + 29}`);
    expect(await events.list({ instanceId: B.id })).toHaveLength(3);
    await events.forget([A.id]);
    expect(await events.list({ instanceId: A.id })).toEqual([]);
    expect(await events.list({ instanceId: B.id })).toHaveLength(3);
    // The numbers go on from where they were: a follower never sees one twice.
    await events.recordOne(A, { kind: 'state', code: 'pending' });
    expect((await events.list({ instanceId: A.id }))[0]!.seq).toBe(MAX_PER_INSTANCE + 34);
  });

  it('a reason is bounded; hostile text is kept as given (the renderer makes it safe)', async () => {
    const { events } = fresh();
    await events.recordOne(A, { kind: 'failure', code: 'unit-failed', message: HOSTILE.bigHostile! });
    await events.recordOne(A, { kind: 'failure', code: 'unit-failed', message: HOSTILE.controls! });
    const [big, controls] = await events.list();
    expect(big!.message).toBe(HOSTILE.bigHostile!.slice(0, 1000));
    expect(controls!.message).toBe(HOSTILE.controls);
  });

  it('tell the status check recorded since the last state change, if any', async () => {
    const { events } = fresh();
    expect(await events.lastCheck(A.id)).toBeUndefined();
    await events.recordOne(A, { kind: 'state', code: 'running', previous: 'pending' });
    expect(await events.lastCheck(A.id)).toBeUndefined();
    await events.recordOne(A, { kind: 'status', code: 'initializing' });
    await events.recordOne(A, { kind: 'failure', code: 'unit-failed' });
    expect(await events.lastCheck(A.id)).toBe('initializing');
    await events.recordOne(A, { kind: 'status', code: 'ok', previous: 'initializing' });
    expect(await events.lastCheck(A.id)).toBe('ok');
    await events.recordOne(B, { kind: 'status', code: 'impaired' });
    expect(await events.lastCheck(A.id)).toBe('ok');
    await events.recordOne(A, { kind: 'state', code: 'stopping', previous: 'running' });
    expect(await events.lastCheck(A.id)).toBeUndefined();
  });

  it('tell listeners once committed, with the runtime; never of a write rolled back; a listener that throws stops nothing', async () => {
    const { db, events } = fresh();
    const told: ToldEvent[] = [];
    events.on(() => { throw new Error('a bad listener'); });
    const off = events.on((e) => told.push(e));
    await write(db, async () => {
      await events.recordOne(A, { kind: 'state', code: 'pending' });
      expect(told).toEqual([]);
    });
    expect(told.map((e) => [e.instanceId, e.code, e.runtime])).toEqual([[A.id, 'pending', 'container']]);
    await expect(write(db, async () => {
      await events.recordOne(B, { kind: 'state', code: 'pending' });
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    expect(told).toHaveLength(1);
    expect(await events.list({ instanceId: B.id })).toEqual([]);
    await events.recordOne(B, { kind: 'state', code: 'running' });
    expect(told.map((e) => [e.instanceId, e.code, e.runtime])).toEqual([[A.id, 'pending', 'container'], [B.id, 'running', 'microvm']]);
    off();
    await events.recordOne(B, { kind: 'state', code: 'stopping' });
    expect(told).toHaveLength(2);
  });

  it('tell reconcile listeners what a start did', () => {
    const { events } = fresh();
    const seen: Record<string, number>[] = [];
    events.onReconcile((s) => seen.push({ ...s }));
    events.reconciled({ relaunched: 2, orphans: 0 });
    expect(seen).toEqual([{ relaunched: 2, orphans: 0 }]);
  });
});

describe('afterCommit', () => {
  it('runs at once outside a write, after the outermost commit inside one, never after a rollback', async () => {
    const db = openDb(':memory:');
    const ran: string[] = [];
    afterCommit(db, () => ran.push('outside'));
    await write(db, async () => {
      await write(db, async () => { afterCommit(db, () => ran.push('nested')); });
      expect(ran).toEqual(['outside']);
    });
    expect(ran).toEqual(['outside', 'nested']);
    await write(db, async () => { afterCommit(db, () => ran.push('rolled back')); throw new Error('no'); }).catch(() => undefined);
    expect(ran).toEqual(['outside', 'nested']);
  });
});

describe('pcloud events, on a terminal', () => {
  const event = (over: Partial<InstanceEvent>): InstanceEvent => ({
    seq: 1, time: Date.UTC(2026, 11, 2, 16, 0, 0, 123), accountId: A.accountId, instanceId: A.id, kind: 'state', code: 'running',
    previous: 'pending', message: 'why', ...over,
  });
  const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

  it('prints time, instance, kind, the change and its reason', () => {
    expect(eventLine(event({}))).toBe(`2026-12-02T16:00:00.123Z  ${A.id}  state    pending->running          why`);
    expect(eventLine(event({ previous: null, code: 'pending', message: '' }))).toMatch(/ {2}pending +-$/);
    expect(EVENTS_HEADER.split(/\s+/)).toEqual(['TIME', 'INSTANCE', 'KIND', 'CODE', 'REASON']);
  });

  it('one line per event, whatever the text, with no control character left', () => {
    const values = { ...HOSTILE, NUL, escape: '\x1b]0;owned\x07\x1b[2J', c1: 'a\u009bb\u0085c', bidi: 'abc\u202edcba\u2066x\u2069', seps: 'a\u2028b\u2029c' };
    for (const [name, v] of Object.entries(values)) {
      for (const over of [{ message: v }, { code: v, previous: v }, { instanceId: v }, { kind: v as InstanceEvent['kind'] }]) {
        const line = eventLine(event(over));
        expect(line, name).not.toMatch(CONTROL);
        expect(line.split('\n'), name).toHaveLength(1);
      }
    }
    expect(terminalText(HOSTILE.controls!)).toBe('tab?here ???');
    expect(terminalText(HOSTILE.unicode!)).toBe(HOSTILE.unicode);
  });

  it('--since takes a duration back or a time, and refuses anything else saying what it takes', () => {
    const now = Date.UTC(2026, 11, 2, 12);
    expect(parseSince('30s', now)).toBe(now - 30_000);
    expect(parseSince('10m', now)).toBe(now - 600_000);
    expect(parseSince('2h', now)).toBe(now - 7_200_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('2026-12-01T09:00:00Z', now)).toBe(Date.UTC(2026, 11, 1, 9));
    expect(parseSince('2026-12-01', now)).toBe(Date.UTC(2026, 11, 1));
    for (const bad of ['', 'yesterday', '10', '-5m', '5w', '2026-13-45', '1e9s', HOSTILE.newline!]) {
      expect(() => parseSince(bad, now), bad).toThrow(/^--since: a duration \(30s, 10m, 2h, 7d\) or a time/);
    }
  });
});
