/**
 * Databases made before drizzle-kit (pcloud up to issue 13): their schema came from this list of plain SQL, applied in
 * order, PRAGMA user_version recording how far one had come. FROZEN: it only brings such a database to its last
 * version, after which upgradeLegacy rebuilds it into the baseline migration's exact shape and drizzle's migrator takes
 * over. New schema changes go in src/db/schema.ts and `npm run db:generate`, never here.
 */
import type Database from 'better-sqlite3';
import type { MigrationMeta } from 'drizzle-orm/migrator';

export const LEGACY: readonly string[] = [
  `
  CREATE TABLE accounts (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY, secret_access_key TEXT NOT NULL, account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL);
  CREATE TABLE images (
    id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    architecture TEXT NOT NULL, platform TEXT NOT NULL DEFAULT 'linux', boot_mode TEXT NOT NULL DEFAULT 'legacy-bios',
    state TEXT NOT NULL, is_public INTEGER NOT NULL DEFAULT 1, root_path TEXT NOT NULL, size_bytes INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL, created_at INTEGER NOT NULL);
  CREATE UNIQUE INDEX images_owner_name ON images(owner_id, name);
  CREATE TABLE key_pairs (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, key_type TEXT NOT NULL, fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL, created_at INTEGER NOT NULL);
  CREATE UNIQUE INDEX key_pairs_account_name ON key_pairs(account_id, name);
  CREATE TABLE vpcs (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, cidr TEXT NOT NULL, is_default INTEGER NOT NULL,
    created_at INTEGER NOT NULL);
  CREATE TABLE subnets (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, vpc_id TEXT NOT NULL, cidr TEXT NOT NULL,
    availability_zone TEXT NOT NULL, is_default INTEGER NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE security_groups (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, vpc_id TEXT NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE reservations (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, client_token TEXT, request_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL);
  CREATE UNIQUE INDEX reservations_token ON reservations(account_id, client_token);
  CREATE TABLE instances (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, reservation_id TEXT NOT NULL, launch_index INTEGER NOT NULL,
    image_id TEXT NOT NULL, instance_type TEXT NOT NULL, runtime TEXT NOT NULL, key_name TEXT, state TEXT NOT NULL,
    state_transition_reason TEXT NOT NULL DEFAULT '', state_reason_code TEXT, state_reason_message TEXT,
    launch_time INTEGER NOT NULL, subnet_id TEXT NOT NULL, vpc_id TEXT NOT NULL, availability_zone TEXT NOT NULL,
    private_ip TEXT NOT NULL, mac_address TEXT NOT NULL, network_interface_id TEXT NOT NULL,
    security_group_ids TEXT NOT NULL, client_token TEXT, user_data TEXT, root_volume_id TEXT NOT NULL,
    root_volume_size_gib INTEGER NOT NULL, attributes TEXT NOT NULL, terminated_at INTEGER, updated_at INTEGER NOT NULL);
  CREATE INDEX instances_account_state ON instances(account_id, state);
  CREATE INDEX instances_reservation ON instances(reservation_id);
  CREATE INDEX instances_terminated ON instances(terminated_at);
  CREATE TABLE tags (account_id TEXT NOT NULL, resource_id TEXT NOT NULL, resource_type TEXT NOT NULL, key TEXT NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (resource_id, key));
  CREATE INDEX tags_account_key ON tags(account_id, key);
  `,
  // DescribeInstances pages in launch order: walk this index and stop after a page instead of sorting every row.
  `
  CREATE INDEX instances_account_launch ON instances(account_id, launch_time, reservation_id, launch_index);
  `,
  // Security group rules; groups made before this get AWS's defaults (egress to anywhere; the default group also
  // lets its own members in).
  `
  CREATE TABLE security_group_rules (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, group_id TEXT NOT NULL, is_egress INTEGER NOT NULL, protocol TEXT NOT NULL,
    from_port INTEGER, to_port INTEGER, cidr TEXT, ref_group_id TEXT, description TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);
  CREATE INDEX security_group_rules_group ON security_group_rules(group_id);
  INSERT INTO security_group_rules (id, account_id, group_id, is_egress, protocol, cidr, created_at)
    SELECT 'sgr-' || substr(lower(hex(randomblob(9))), 1, 17), account_id, id, 1, '-1', '0.0.0.0/0', created_at FROM security_groups;
  INSERT INTO security_group_rules (id, account_id, group_id, is_egress, protocol, ref_group_id, created_at)
    SELECT 'sgr-' || substr(lower(hex(randomblob(9))), 1, 17), account_id, id, 0, '-1', id, created_at FROM security_groups WHERE name = 'default';
  `,
  // Internet gateways: a VPC reaches the outside (NAT) only with one attached. Default VPCs come with one.
  `
  CREATE TABLE internet_gateways (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, vpc_id TEXT, created_at INTEGER NOT NULL);
  CREATE INDEX internet_gateways_vpc ON internet_gateways(vpc_id);
  INSERT INTO internet_gateways (id, account_id, vpc_id, created_at)
    SELECT 'igw-' || substr(lower(hex(randomblob(9))), 1, 17), account_id, id, created_at FROM vpcs WHERE is_default = 1;
  `,
  // VPC and subnet attributes (ModifyVpcAttribute, ModifySubnetAttribute), with AWS's defaults: default VPCs have DNS
  // hostnames on. Subnets do not map public IPs (pcloud gives none), default ones included.
  `
  ALTER TABLE vpcs ADD COLUMN dns_support INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE vpcs ADD COLUMN dns_hostnames INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE vpcs ADD COLUMN address_usage_metrics INTEGER NOT NULL DEFAULT 0;
  UPDATE vpcs SET dns_hostnames = 1 WHERE is_default = 1;
  ALTER TABLE subnets ADD COLUMN map_public_ip INTEGER NOT NULL DEFAULT 0;
  `,
  // Public IPs: an address on the host's physical network, 1:1 NATed to the instance by its VPC router.
  `
  ALTER TABLE instances ADD COLUMN public_ip TEXT;
  CREATE INDEX instances_public_ip ON instances(public_ip);
  `,
  // EBS-style volumes (raw files in the pool, reaching VMs over iSCSI) and their snapshots (reflink copies).
  `
  CREATE TABLE volumes (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, availability_zone TEXT NOT NULL, size_gib INTEGER NOT NULL,
    volume_type TEXT NOT NULL, iops INTEGER, throughput INTEGER, snapshot_id TEXT, state TEXT NOT NULL,
    instance_id TEXT, device TEXT, attach_state TEXT, attach_time INTEGER, delete_on_termination INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX volumes_account ON volumes(account_id);
  CREATE INDEX volumes_instance ON volumes(instance_id);
  CREATE TABLE snapshots (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, volume_id TEXT NOT NULL, size_gib INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, created_at INTEGER NOT NULL
  );
  CREATE INDEX snapshots_account ON snapshots(account_id);
  `,
  // Lambda functions: $LATEST in functions, published versions in function_versions (configuration and code frozen).
  `
  CREATE TABLE functions (
    account_id TEXT NOT NULL, name TEXT NOT NULL, runtime TEXT NOT NULL, handler TEXT NOT NULL, role TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', memory_mib INTEGER NOT NULL, timeout_sec INTEGER NOT NULL, environment TEXT NOT NULL,
    mode TEXT NOT NULL, code_sha256 TEXT NOT NULL, code_size INTEGER NOT NULL, revision TEXT NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0, url_id TEXT, url_auth TEXT, url_created_at INTEGER,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
  );
  CREATE UNIQUE INDEX functions_url ON functions(url_id);
  CREATE TABLE function_versions (
    account_id TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, config TEXT NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name, version)
  );
  `,
];

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Bring a database made by the list above (user_version > 0, no drizzle journal) onto drizzle's migrations: finish
 * the old list, then rebuild every table from the baseline migration (copying each row, column by column) and record
 * the baseline as applied. One IMMEDIATE transaction: it is all done or, on any error, the file is left as it was.
 * A column the baseline has no place for stops it (data is never dropped). Fresh and drizzle-made databases pass by.
 */
export function upgradeLegacy(sqlite: Database.Database, baseline: MigrationMeta, journal: string): void {
  const isLegacy = () =>
    (sqlite.pragma('user_version', { simple: true }) as number) > 0 &&
    sqlite.prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get('table', journal) === undefined;
  if (!isLegacy()) return;
  // Tables are dropped and remade: constraints are checked once, at the end (the pragma is a no-op in a transaction).
  const foreignKeys = sqlite.pragma('foreign_keys', { simple: true }) as number;
  sqlite.pragma('foreign_keys = OFF');
  try {
    sqlite.transaction(() => {
      if (!isLegacy()) return; // another process did it while this one waited
      const version = sqlite.pragma('user_version', { simple: true }) as number;
      if (version > LEGACY.length) throw new Error(`the database's schema version ${version} is newer than this pcloud`);
      for (const sql of LEGACY.slice(version)) sqlite.exec(sql);
      sqlite.pragma(`user_version = ${LEGACY.length}`);
      rebuild(sqlite, baseline, journal);
      const broken = sqlite.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) throw new Error(`${broken.length} rows break a foreign key`);
    }).immediate();
  } finally {
    sqlite.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
  }
}

function rebuild(sqlite: Database.Database, baseline: MigrationMeta, journal: string): void {
  const names = (type: string) => (sqlite
    .prepare("SELECT name FROM sqlite_master WHERE type = ? AND substr(name, 1, 7) <> 'sqlite_' AND sql IS NOT NULL")
    .all(type) as { name: string }[]).map((r) => r.name);
  const columns = (table: string) =>
    (sqlite.pragma(`table_info(${quote(table)})`) as { name: string }[]).map((c) => c.name);
  const tables = names('table');
  // Old indexes go with their tables (the baseline makes them anew, under the same names).
  for (const index of names('index')) sqlite.exec(`DROP INDEX ${quote(index)}`);
  for (const table of tables) sqlite.exec(`ALTER TABLE ${quote(table)} RENAME TO ${quote(`__legacy_${table}`)}`);
  for (const statement of baseline.sql) if (statement.trim()) sqlite.exec(statement);
  for (const table of tables) {
    const kept = new Set(columns(table));
    const old = columns(`__legacy_${table}`);
    const lost = old.filter((c) => !kept.has(c));
    if (lost.length > 0) throw new Error(`the new schema has no place for ${table}.${lost.join(`, ${table}.`)}`);
    const list = old.map(quote).join(', ');
    sqlite.exec(`INSERT INTO ${quote(table)} (${list}) SELECT ${list} FROM ${quote(`__legacy_${table}`)}`);
    sqlite.exec(`DROP TABLE ${quote(`__legacy_${table}`)}`);
  }
  sqlite.exec(`CREATE TABLE ${quote(journal)} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`);
  sqlite.prepare(`INSERT INTO ${quote(journal)} (hash, created_at) VALUES (?, ?)`).run(baseline.hash, baseline.folderMillis);
}
