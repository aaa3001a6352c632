/**
 * `pcloud host list`: the hosts instances run on, read from the state database without writing to it (a read-only
 * connection: safe beside a server running on it, SQLite WAL), with the ratios and timeout of this environment.
 */
import type { Command } from 'commander';
import { configFromEnv } from '../cloud/config.js';
import { hostViews, type HostView } from '../cloud/hosts/view.js';
import { DEFAULT_DATA } from './config.js';
import { withReadOnlyDb } from './read-db.js';
import { safeText } from './table.js';

/** A table cell: what a terminal acts on or what breaks a line (a tab, a newline, an escape) made `?` (table.ts). */
const cell = (v: string | number): string => safeText(String(v));

/** One line per host (tab-separated, with a header): what `pcloud host list` prints. */
export function hostsTable(rows: HostView[]): string {
  return [
    ['ID', 'NAME', 'ZONE', 'STATE', 'RUNTIMES', 'ACCEL', 'VCPUS', 'MEMORY_MIB', 'INSTANCES', 'HEARTBEAT'].join('\t'),
    ...rows.map((h) => [
      h.id, h.name, h.availabilityZone, h.lost ? `${h.state},lost` : h.state, h.runtimes.join(',') || '-', h.accel,
      `${h.vcpus.used}/${h.vcpus.total}`, `${h.memoryMiB.used}/${h.memoryMiB.total}`, h.instances, `${h.heartbeatAgeSec}s ago`,
    ].map(cell).join('\t')),
  ].join('\n');
}

export function hostCommand(program: Command): void {
  const host = program.command('host').description('the hosts instances run on');
  host.command('list')
    .description('every host: id, name, zone, state (lost: not heard from), runtimes, accel, vCPUs and memory (MiB) its instances hold / it has, instances, last heartbeat')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--json', 'as JSON, with the over-commit limits placement keeps to')
    .action(async (opts: { data: string; json?: boolean }) => {
      const rows = await withReadOnlyDb(opts.data, (db) => hostViews(db, configFromEnv().hosts));
      process.stdout.write((opts.json ? JSON.stringify(rows, null, 2) : hostsTable(rows)) + '\n');
    });
}
