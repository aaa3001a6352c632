/**
 * `pcloud events`: what happened to instances (state changes, instance status check changes, failures, each with its
 * reason: src/cloud/events.ts), read from the state database, SQLite or PostgreSQL, while servers run on it. A line
 * each: time, instance, kind, code (the state or check before, where known: `pending->running`), reason. `--follow`
 * keeps printing new ones (the table is read again every second) until Ctrl-C.
 */
import type { Command } from 'commander';
import { Events, type InstanceEvent } from '../cloud/events.js';
import { isId } from '../cloud/ids.js';
import { closeDatabase, openDatabase } from '../db/open.js';
import { ensureDataDir } from '../paths.js';
import { databaseOf, DEFAULT_DATA } from './config.js';

/** How often --follow reads the table again. */
const FOLLOW_EVERY_MS = 1000;
/** How many events are printed without --since (the latest). */
const LAST = 100;
/** How many events are read at a time. */
const PAGE = 1000;

const UNITS_MS: ReadonlyMap<string, number> = new Map([['s', 1000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]]);

/** `--since`: a duration back from now (30s, 10m, 2h, 7d) or a time (ISO 8601), as ms since the epoch. */
export function parseSince(value: string, now = Date.now()): number {
  const m = /^(\d{1,9})([smhd])$/.exec(value);
  if (m) return now - Number(m[1]) * UNITS_MS.get(m[2]!)!;
  const t = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new Error(`--since: a duration (30s, 10m, 2h, 7d) or a time (2026-12-01T09:00:00Z), not ${JSON.stringify(terminalText(value.slice(0, 64)))}`);
  return t;
}

/**
 * Text for a terminal: control characters (C0, DEL, C1: escapes that move the cursor or retitle the window, newlines
 * that forge lines), and the Unicode ones that reorder or split what is shown (bidi overrides, line separators), each a `?`.
 */
export function terminalText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
}

/** One event as a line (no newline): time, instance, kind, code, reason. */
export function eventLine(e: InstanceEvent): string {
  const code = e.previous ? `${e.previous}->${e.code}` : e.code;
  return [
    new Date(e.time).toISOString(), terminalText(e.instanceId).padEnd(19), terminalText(e.kind).padEnd(7), terminalText(code).padEnd(24),
    terminalText(e.message) || '-',
  ].join('  ');
}

export const EVENTS_HEADER = ['TIME'.padEnd(24), 'INSTANCE'.padEnd(19), 'KIND'.padEnd(7), 'CODE'.padEnd(24), 'REASON'].join('  ');

interface EventsOptions {
  data: string;
  database?: string;
  instance?: string;
  since?: string;
  follow?: boolean;
}

export function eventsCommand(program: Command): void {
  program.command('events')
    .description('what happened to instances: state changes, status check changes and failures, with their reasons')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--database <url>', 'the state in PostgreSQL (default PCLOUD_DATABASE_URL), as `pcloud serve` was given')
    .option('--instance <id>', "only this instance's events")
    .option('--since <when>', `events from then on: a duration back (30s, 10m, 2h, 7d) or a time (ISO 8601); default the last ${LAST}`)
    .option('-f, --follow', 'keep printing new events until Ctrl-C')
    .action(async (opts: EventsOptions) => {
      if (opts.instance !== undefined && !isId('i', opts.instance)) {
        throw new Error(`--instance: an instance id (i-…), not ${JSON.stringify(terminalText(opts.instance.slice(0, 64)))}`);
      }
      const since = opts.since === undefined ? undefined : parseSince(opts.since);
      // Only the state database: no storage pool or units.
      await ensureDataDir(opts.data);
      const db = await openDatabase(opts.data, databaseOf(opts));
      const events = new Events(db);
      try {
        process.stdout.write(EVENTS_HEADER + '\n');
        let last: number;
        if (since === undefined) {
          const latest = await events.list({ instanceId: opts.instance, limit: LAST });
          print(latest);
          last = latest.at(-1)?.seq ?? await events.lastSeq();
        } else {
          last = await printAfter(events, { instanceId: opts.instance, since, after: 0 });
        }
        if (opts.follow) await follow(events, opts.instance, last);
      } finally {
        await closeDatabase(db);
      }
    });
}

function print(list: InstanceEvent[]): void {
  if (list.length) process.stdout.write(list.map(eventLine).join('\n') + '\n');
}

/** Print every event after `q.after` (and at or after `q.since`), a page at a time; the last one's seq (else `q.after`). */
async function printAfter(events: Events, q: { instanceId?: string; since?: number; after: number }): Promise<number> {
  let last = q.after;
  for (;;) {
    const page = await events.list({ ...q, after: last, limit: PAGE });
    print(page);
    last = page.at(-1)?.seq ?? last;
    if (page.length < PAGE) return last;
  }
}

/** Print what comes after `after`, every second, until SIGINT or SIGTERM (then resolve: the caller closes the database). */
async function follow(events: Events, instanceId: string | undefined, after: number): Promise<void> {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  let done = false;
  const end = () => { done = true; stop(); };
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  try {
    let last = after;
    while (!done) {
      last = await printAfter(events, { instanceId, after: last });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise((r) => { timer = setTimeout(r, FOLLOW_EVERY_MS); })]);
      clearTimeout(timer);
    }
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
  }
}
