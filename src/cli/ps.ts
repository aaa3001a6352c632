/**
 * `pcloud ps`: every account's instances as a terminal table (id, Name tag, type, runtime, state, status, IP, host,
 * age), and with `--functions` every account's functions (name, runtime, mode, the state of their units, URL). Reads the
 * state database read-only beside a running server, and asks the host's unit manager (and running VMs' QEMU) for the
 * status, as DescribeInstanceStatus does; starts and changes nothing.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { configFromEnv, type CloudConfig } from '../cloud/config.js';
import { functionUrl } from '../cloud/functions/urls.js';
import { functionOverview, instanceOverview, type FunctionOverview, type InstanceOverview } from '../cloud/overview.js';
import type { Db } from '../db/index.js';
import { hostConfigFromEnv } from '../host/config.js';
import { QmpVmControl } from '../host/qmp-vm-control.js';
import { openUnitManager } from '../host/units/index.js';
import type { UnitManager } from '../host/units/types.js';
import { DEFAULT_DATA, lambdaListenFromEnv } from './config.js';
import { withReadOnlyDb } from './read-db.js';
import { formatAge, renderTable, type Column } from './table.js';

/** What `ps` and `top` read: the database (read-only), the data dir's unit manager, its VMs' QMP, the cloud's settings. */
export interface State {
  db: Db;
  units: UnitManager;
  vms: QmpVmControl;
  config: CloudConfig;
  /** The data dir's run directory (units, VM sockets). */
  runDir: string;
}

/** Run `fn` on the data dir's state, everything closed after it. */
export async function withState<T>(dataDir: string, fn: (s: State) => Promise<T>): Promise<T> {
  return await withReadOnlyDb(dataDir, async (db) => {
    const runDir = join(dataDir, 'run');
    const units = await openUnitManager(runDir, dataDir, hostConfigFromEnv());
    try {
      return await fn({ db, units, vms: new QmpVmControl(runDir), config: configFromEnv(), runDir });
    } finally {
      units.close();
    }
  });
}

/** An instance's status as DescribeInstanceStatus gives it: the instance check, and the system check when it fails. */
export function statusText(i: Pick<InstanceOverview, 'health'>): string {
  const h = i.health;
  if (!h || h.instance.status === 'not-applicable') return '-';
  return h.system.status === 'impaired' ? `${h.instance.status} (system impaired)` : h.instance.status;
}

const INSTANCE_COLUMNS: Column[] = [
  { header: 'ID' }, { header: 'NAME', max: 32 }, { header: 'TYPE' }, { header: 'RUNTIME' }, { header: 'STATE' },
  { header: 'STATUS' }, { header: 'IP' }, { header: 'HOST', max: 32 }, { header: 'AGE', align: 'right' },
];

/** The instances' table. */
export function instancesTable(rows: InstanceOverview[], now = Date.now()): string {
  return renderTable(INSTANCE_COLUMNS, rows.map((i) => [
    i.id, i.name || '-', i.instanceType, i.runtime, i.state, statusText(i),
    i.publicIp ? `${i.privateIp} (${i.publicIp})` : i.privateIp, i.host ?? '-', formatAge(i.launchTime, now),
  ]));
}

/** A function's units in a few words: `not started`, `2 active`, `1 active, 1 failed`. */
export function unitsText(units: FunctionOverview['units']): string {
  if (!units.length) return 'not started';
  const counts = new Map<string, number>();
  for (const u of units) counts.set(u.state, (counts.get(u.state) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([state, n]) => `${n} ${state}`).join(', ');
}

const FUNCTION_COLUMNS: Column[] = [
  { header: 'ACCOUNT' }, { header: 'NAME', max: 40 }, { header: 'RUNTIME' }, { header: 'MODE' }, { header: 'UNITS' }, { header: 'URL' },
];

/** The functions' table; URLs under nginx's address (`lambdaBase`: http://PCLOUD_LAMBDA_LISTEN). */
export function functionsTable(rows: FunctionOverview[], lambdaBase: string): string {
  return renderTable(FUNCTION_COLUMNS, rows.map((f) => [
    f.accountId, f.name, f.runtime, f.mode, unitsText(f.units), f.urlId ? functionUrl(lambdaBase, f.urlId) : '-',
  ]));
}

export function psCommand(program: Command): void {
  program.command('ps')
    .description('every instance: id, Name tag, type, runtime, state, status, IP, host, age (--functions: every function)')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--functions', 'functions instead: name, runtime, mode, the state of their units, URL')
    .option('--all', 'terminated instances too (those DescribeInstances still lists)')
    .action(async (opts: { data: string; functions?: boolean; all?: boolean }) => {
      const text = await withState(opts.data, async ({ db, units, vms, config }) => (opts.functions
        ? functionsTable(await functionOverview(db, units), `http://${lambdaListenFromEnv()}`)
        : instancesTable(await instanceOverview(db, config, { all: opts.all, probes: { units, vms } }))));
      process.stdout.write(text + '\n');
    });
}
