/**
 * `pcloud host list`: the hosts instances run on, read from the state database without writing to it (a read-only
 * connection: safe beside a server running on it, SQLite WAL), with the ratios and timeout of this environment.
 * `pcloud host drain` and `pcloud host remove` change a host's state (cloud/hosts/operate.ts). `pcloud host token` (on
 * the control plane) prints a join token; `pcloud host join --control URL --token T` (on the
 * new machine) redeems it, keeps what it is told in the data dir (joined.ts) and serves as a host of that cloud.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { JoinAnswer } from '../api/hosts/join.js';
import { changeHost } from '../cloud/hosts/operate.js';
import { DEFAULT_TOKEN_TTL_HOURS, issueToken } from '../cloud/hosts/tokens.js';
import type { Db } from '../db/index.js';
import { closeDatabase, openDatabase } from '../db/open.js';
import { ensureDataDir } from '../paths.js';
import { endpointOf } from './credentials.js';
import { writeJoined } from './joined.js';
import { hostConfigFromEnv } from '../host/config.js';
import { DEFAULT_METRICS_LISTEN } from '../metrics/server.js';
import { configFromEnv } from '../cloud/config.js';
import { hostViews, type HostView } from '../cloud/hosts/view.js';
import { databaseOf, DEFAULT_DATA, DEFAULT_LISTEN } from './config.js';
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

/** What `pcloud serve` takes (its options). */
export interface ServeOptions {
  listen: string;
  data: string;
  database?: string;
  image: boolean;
  accessLog: string;
  metricsListen: string;
}

/** The state database to change (a server may run on it): PostgreSQL's, or the data dir's SQLite file if there is one. */
async function withStateDb<T>(opts: { data: string; database?: string }, fn: (db: Db) => Promise<T>): Promise<T> {
  const database = databaseOf(opts);
  if (!database && !existsSync(join(opts.data, 'pcloud.db'))) throw new Error(`no state database in ${opts.data}: start \`pcloud serve --data ${opts.data}\` first`);
  const db = await openDatabase(opts.data, database);
  try {
    return await fn(db);
  } finally {
    await closeDatabase(db);
  }
}

/** Redeem a join token at the control plane: what this host is to serve with, or the control plane's refusal. */
async function redeem(control: string, token: string, name: string): Promise<JoinAnswer> {
  let res: Response;
  try {
    res = await fetch(new URL('/pcloud/hosts/join', control), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, name }), signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the control plane at ${control}: ${(err as Error).message}`);
  }
  const body = await res.json().catch(() => undefined) as (Partial<JoinAnswer> & { error?: string }) | undefined;
  if (!res.ok) throw new Error(`the control plane refused: ${typeof body?.error === 'string' ? body.error.slice(0, 300) : `HTTP ${res.status}`}`);
  if (!body || typeof body.database !== 'string' || typeof body.hostKey !== 'string' || !Array.isArray(body.zones)) {
    throw new Error(`${control} did not answer as a pcloud control plane`);
  }
  return body as JoinAnswer;
}

export function hostCommand(program: Command, serve: (opts: ServeOptions) => Promise<void>): void {
  const host = program.command('host').description('the hosts instances run on');
  host.command('list')
    .description('every host: id, name, zone, state (lost: not heard from), runtimes, accel, vCPUs and memory (MiB) its instances hold / it has, instances, last heartbeat')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--json', 'as JSON, with the over-commit limits placement keeps to')
    .action(async (opts: { data: string; json?: boolean }) => {
      const rows = await withReadOnlyDb(opts.data, (db) => hostViews(db, configFromEnv().hosts));
      process.stdout.write((opts.json ? JSON.stringify(rows, null, 2) : hostsTable(rows)) + '\n');
    });
  host.command('token')
    .description('print a token a new machine joins this cloud with (pcloud host join): good once, for --ttl-hours')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--database <url>', 'the state in PostgreSQL (default PCLOUD_DATABASE_URL), as `pcloud serve` was given')
    .option('--zone <zone>', 'the availability zone the host serves (default: its own PCLOUD_HOST_ZONE, else the first zone)')
    .option('--ttl-hours <n>', 'how long the token is good', String(DEFAULT_TOKEN_TTL_HOURS))
    .action(async (opts: { data: string; database?: string; zone?: string; ttlHours: string }) => {
      const database = databaseOf(opts);
      if (!database) throw new Error('hosts join a cloud whose state is in PostgreSQL: give --database (or PCLOUD_DATABASE_URL) as its servers have it');
      const ttlHours = Number(opts.ttlHours);
      if (!Number.isInteger(ttlHours) || ttlHours < 1 || ttlHours > 24 * 30) throw new Error('--ttl-hours must be a whole number of hours, 1 to 720');
      const zones = configFromEnv().availabilityZones;
      if (opts.zone !== undefined && !zones.includes(opts.zone)) throw new Error(`--zone must be one of this cloud's zones (PCLOUD_AZS): ${zones.join(', ')}`);
      await ensureDataDir(opts.data);
      const db = await openDatabase(opts.data, database);
      try {
        const { token } = await issueToken(db, { zone: opts.zone, ttlHours });
        process.stdout.write(`${token}\n`);
        process.stderr.write(`on the new host: pcloud host join --control ${await endpointOf(opts.data)} --token ${token}\n`);
      } finally {
        await closeDatabase(db);
      }
    });
  host.command('drain')
    .argument('<host>', 'the host\'s id or name (`pcloud host list`)')
    .description('take no new instances on a host (its stopped ones do not start there); what runs there runs on. --undo: take them again')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--database <url>', 'the state in PostgreSQL (default PCLOUD_DATABASE_URL), as `pcloud serve` was given')
    .option('--undo', 'the host takes new instances again')
    .action(async (ref: string, opts: { data: string; database?: string; undo?: boolean }) => {
      const { host: h, instances } = await withStateDb(opts, (db) => changeHost(db, configFromEnv().hosts, ref, opts.undo ? 'undrain' : 'drain'));
      process.stderr.write(`host ${cell(h.name)} is ${h.state}; it holds ${instances} instance${instances === 1 ? '' : 's'}\n`);
    });
  host.command('remove')
    .argument('<host>', 'the host\'s id or name (`pcloud host list`)')
    .description('remove a host that is gone (its server not serving) from the cloud: its instances stay listed, impaired, and end at once when terminated')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--database <url>', 'the state in PostgreSQL (default PCLOUD_DATABASE_URL), as `pcloud serve` was given')
    .action(async (ref: string, opts: { data: string; database?: string }) => {
      const { host: h, instances } = await withStateDb(opts, (db) => changeHost(db, configFromEnv().hosts, ref, 'remove'));
      process.stderr.write(`host ${cell(h.name)} is removed; its ${instances === 1 ? '1 instance stays' : `${instances} instances stay`} listed until terminated\n`);
    });
  host.command('join')
    .description('make this machine a host of the cloud at --control (a token from its `pcloud host token`), then serve as one')
    .requiredOption('--control <url>', "the control plane's API (http://HOST:PORT)")
    .requiredOption('--token <token>', 'the join token `pcloud host token` printed there')
    .option('--data <dir>', 'data directory of this host', DEFAULT_DATA)
    .option('--listen <host:port>', 'where this host serves the API too', DEFAULT_LISTEN)
    .option('--underlay-address <ip>', "this host's address on the network that joins the hosts (VXLAN; default PCLOUD_UNDERLAY_ADDRESS)")
    .option('--underlay-device <dev>', 'the interface of that network (default PCLOUD_UNDERLAY_DEVICE)')
    .option('--no-serve', 'only join (write the data dir\'s joined.json): `pcloud serve --data DIR` serves later')
    .action(async (opts: { control: string; token: string; data: string; listen: string; underlayAddress?: string; underlayDevice?: string; serve: boolean }) => {
      let control: URL;
      try {
        control = new URL(opts.control);
      } catch {
        throw new Error('--control must be the control plane\'s URL, e.g. http://192.168.50.1:8773');
      }
      if (control.protocol !== 'http:' && control.protocol !== 'https:') throw new Error('--control must be an http:// or https:// URL');
      const answer = await redeem(control.origin, opts.token, hostname());
      await ensureDataDir(opts.data);
      const env = hostConfigFromEnv();
      const underlayAddress = opts.underlayAddress ?? env.underlayAddress;
      const underlayDevice = opts.underlayDevice ?? env.underlayDevice;
      await writeJoined(opts.data, { ...answer, control: control.origin, ...(underlayAddress ? { underlayAddress } : {}), ...(underlayDevice ? { underlayDevice } : {}) });
      process.stderr.write(`joined the cloud at ${control.origin} as ${hostname()}${answer.zone ? ` (zone ${answer.zone})` : ''}\n`);
      if (opts.serve) await serve({ listen: opts.listen, data: opts.data, image: false, accessLog: '-', metricsListen: DEFAULT_METRICS_LISTEN });
    });
}
