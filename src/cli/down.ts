/**
 * `pcloud down [--data DIR] [--purge]`: every unit the data dir started stopped (instances, TPMs, function sockets, VPC
 * DNS, nginx, tgtd, ganesha), so nothing of it runs on; with --purge, also its namespaces, NFS filter, mounts (the
 * pool) and files. What is the data dir's, and the refusals (not a data dir; a server holding it), are
 * src/host/teardown.ts'.
 */
import type { Command } from 'commander';
import { hostConfigFromEnv } from '../host/config.js';
import { takeDown, type DownReport } from '../host/teardown.js';
import { DEFAULT_DATA } from './config.js';

/** Terminal-safe: control characters of a path (a newline, an escape) shown as `?`. */
const safe = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

const list = (names: string[]) => names.map(safe).join(', ');

/** What `pcloud down` prints: what was stopped and removed, or that nothing ran. */
export function downSummary(r: DownReport, purge: boolean): string {
  const dir = safe(r.dataDir);
  if (r.absent) return `no data dir at ${dir}: nothing of it runs\n`;
  const lines: string[] = [];
  if (r.stopped.length) lines.push(`stopped ${r.stopped.length} unit${r.stopped.length === 1 ? '' : 's'} of ${dir}: ${list(r.stopped)}`);
  else lines.push(`nothing of ${dir} runs`);
  if (r.namespaces.length) lines.push(`removed network namespaces: ${list(r.namespaces)}`);
  if (r.tables.length) lines.push(`removed nft tables: ${list(r.tables)}`);
  if (r.mounts.length) lines.push(`unmounted: ${list(r.mounts)}`);
  if (purge) lines.push(r.removed ? `removed ${dir}` : `${dir} kept: something stays mounted under it (see findmnt -R ${dir})`);
  else if (r.instances.length) {
    lines.push(`their disks and records are kept: \`pcloud serve --data ${dir}\` starts the ${r.instances.length} instance${r.instances.length === 1 ? '' : 's'} again`);
  }
  return lines.join('\n') + '\n';
}

export function downCommand(program: Command): void {
  program.command('down')
    .description('stop every unit the data dir started (instances, VPC DNS, nginx, tgtd, ganesha, functions); with --purge, also remove its pool, namespaces and files')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--purge', 'also remove its network namespaces, NFS filter, pool and every file of the data dir')
    .action(async (opts: { data: string; purge?: boolean }) => {
      const config = hostConfigFromEnv();
      // Its refusals name the path and what holds it (from the lock file): on the terminal, control characters shown as ?.
      const report = await takeDown(opts.data, { purge: opts.purge, settings: config }).catch((err: Error) => {
        throw new Error(safe(err.message));
      });
      process.stdout.write(downSummary(report, opts.purge ?? false));
      if (opts.purge && !report.removed && !report.absent) process.exitCode = 1;
    });
}
