/**
 * `pcloud top`: CPU and memory of every instance that holds a unit, from the unit's cgroup (host/cgroups.ts), refreshed
 * every interval: CPU as percent of one CPU over the last interval (its cgroup's CPU time between two readings), memory
 * as the cgroup's charge and limit. The screen is cleared between frames only on a terminal; `--once` prints one frame
 * (for scripts); Ctrl-C ends it cleanly.
 */
import type { Command } from 'commander';
import { instanceOverview, type InstanceOverview } from '../cloud/overview.js';
import { UNIT_PREFIX } from '../cloud/instances/types.js';
import { cpuPercent, unitCgroups, type CgroupUsage, type UnitCgroups } from '../host/cgroups.js';
import { DEFAULT_DATA } from './config.js';
import { withState, type State } from './ps.js';
import { formatBytes, renderTable, type Column } from './table.js';

/** Instances in these states may hold a unit (and so a cgroup). */
const WITH_UNITS = ['pending', 'running', 'stopping', 'shutting-down'];
/** The first frame's CPU comes from two readings this far apart at most (then every interval). */
const FIRST_MS = 1000;
/** Home, then clear the screen. */
const CLEAR = '\x1b[H\x1b[2J';

export interface TopRow {
  instance: InstanceOverview;
  usage?: CgroupUsage;
  /** Over the last interval; undefined without two readings. */
  cpu?: number;
}

/** One reading of every instance's cgroup. */
export async function readAll(state: Pick<State, 'db' | 'config'>, cgroups: UnitCgroups): Promise<{ instance: InstanceOverview; usage?: CgroupUsage }[]> {
  const rows = await instanceOverview(state.db, state.config, { states: WITH_UNITS });
  return await Promise.all(rows.map(async (instance) => ({ instance, usage: await cgroups.usage(UNIT_PREFIX + instance.id) })));
}

/** The rows of a frame: this reading against the one before it, busiest first (then as launched). */
export function topRows(now: { instance: InstanceOverview; usage?: CgroupUsage }[], before: Map<string, CgroupUsage>): TopRow[] {
  const rows = now.map((r) => ({ ...r, cpu: cpuPercent(before.get(r.instance.id), r.usage) }));
  return rows.sort((a, b) => (b.cpu ?? -1) - (a.cpu ?? -1));
}

const COLUMNS: Column[] = [
  { header: 'ID' }, { header: 'NAME', max: 24 }, { header: 'RUNTIME' }, { header: 'STATE' },
  { header: 'CPU%', align: 'right' }, { header: 'MEM', align: 'right' }, { header: 'MAX', align: 'right' }, { header: 'MEM%', align: 'right' },
];

/** A frame: a summary line, then the table. */
export function topFrame(rows: TopRow[], intervalSec: number, at = new Date()): string {
  const pct = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));
  const cpu = rows.reduce((s, r) => s + (r.cpu ?? 0), 0);
  const mem = rows.reduce((s, r) => s + (r.usage?.memoryBytes ?? 0), 0);
  const head = `pcloud top - ${at.toTimeString().slice(0, 8)}  ${rows.length} instance${rows.length === 1 ? '' : 's'}, CPU ${cpu.toFixed(1)}%, memory ${formatBytes(mem)}  (every ${intervalSec}s)`;
  return [head, '', renderTable(COLUMNS, rows.map((r) => {
    const m = r.usage?.memoryBytes;
    const max = r.usage?.memoryMaxBytes;
    return [r.instance.id, r.instance.name || '-', r.instance.runtime, r.instance.state, pct(r.cpu), formatBytes(m), formatBytes(max),
      pct(m !== undefined && max ? (m / max) * 100 : undefined)];
  }))].join('\n');
}

/** The interval in seconds from --interval: a number from 0.2 to 3600. */
export function intervalOf(text: string): number {
  const v = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(v >= 0.2 && v <= 3600)) throw new Error(`--interval: seconds between 0.2 and 3600, not ${JSON.stringify(text.slice(0, 40))}`);
  return v;
}

export function topCommand(program: Command): void {
  program.command('top')
    .description("every instance's CPU and memory from its cgroup, refreshed every interval")
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--interval <seconds>', 'seconds between frames', '2')
    .option('--once', 'print one frame and end (scripts)')
    .action(async (opts: { data: string; interval: string; once?: boolean }) => {
      const intervalSec = intervalOf(opts.interval);
      const tty = Boolean(process.stdout.isTTY);
      let ended = false;
      let wake: (() => void) | undefined;
      const end = () => {
        ended = true;
        wake?.();
      };
      const pause = (ms: number) => new Promise<void>((resolve) => {
        if (ended) return resolve();
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      process.on('SIGINT', end);
      process.on('SIGTERM', end);
      try {
        await withState(opts.data, async (state) => {
          const cgroups = unitCgroups(state.units, state.runDir);
          const readings = (list: { instance: InstanceOverview; usage?: CgroupUsage }[]) =>
            new Map(list.flatMap((r) => (r.usage ? [[r.instance.id, r.usage] as const] : [])));
          let before = readings(await readAll(state, cgroups));
          await pause(Math.min(FIRST_MS, intervalSec * 1000));
          while (!ended) {
            const now = await readAll(state, cgroups);
            const frame = topFrame(topRows(now, before), intervalSec);
            process.stdout.write(tty ? `${CLEAR}${frame}\n` : `${frame}\n\n`);
            before = readings(now);
            if (opts.once) break;
            await pause(intervalSec * 1000);
          }
        });
      } finally {
        process.off('SIGINT', end);
        process.off('SIGTERM', end);
      }
    });
}
