/** Slots: at most `size` jobs at once, the rest in order; a waiting job whose signal aborts leaves the line. */
import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/slots.js';

/** A job that runs until released, recording when it began. */
function job(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => { release = r; });
  return { run: async () => { log.push(name); await done; return name; }, release };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('Slots', () => {
  it('runs at most size jobs at once, the others in the order they came', async () => {
    const slots = new Slots(() => 2);
    const log: string[] = [];
    const jobs = ['a', 'b', 'c', 'd'].map((n) => job(log, n));
    const results = jobs.map((j) => slots.run(j.run));
    await settle();
    expect(log).toEqual(['a', 'b']);
    expect(slots.load).toBe(4);
    jobs[1]!.release();
    await settle();
    expect(log).toEqual(['a', 'b', 'c']);
    jobs[0]!.release();
    jobs[2]!.release();
    jobs[3]!.release();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
    expect(slots.load).toBe(0);
  });

  it('a waiting job whose signal aborts never runs and gives up its place; a running one is not interrupted', async () => {
    const slots = new Slots(() => 1);
    const log: string[] = [];
    const first = job(log, 'first');
    const ctlFirst = new AbortController();
    const running = slots.run(first.run, ctlFirst.signal);
    const ctl = new AbortController();
    const waiting = slots.run(job(log, 'cancelled').run, ctl.signal);
    const next = job(log, 'next');
    const after = slots.run(next.run);
    ctl.abort(new Error('cancelled'));
    ctlFirst.abort(new Error('too late'));
    await expect(waiting).rejects.toThrow('cancelled');
    first.release();
    next.release();
    expect(await running).toBe('first');
    expect(await after).toBe('next');
    expect(log).toEqual(['first', 'next']);
    await expect(slots.run(async () => 'x', ctl.signal)).rejects.toThrow('cancelled');
  });

  it('follows its size as it changes', async () => {
    let size = 1;
    const slots = new Slots(() => size);
    const log: string[] = [];
    const jobs = ['a', 'b', 'c'].map((n) => job(log, n));
    const results = jobs.map((j) => slots.run(j.run));
    await settle();
    expect(log).toEqual(['a']);
    size = 3;
    jobs[0]!.release();
    await settle();
    expect(log).toEqual(['a', 'b', 'c']);
    jobs[1]!.release();
    jobs[2]!.release();
    await Promise.all(results);
  });
});
