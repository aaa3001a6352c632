/**
 * A throwaway PostgreSQL for tests: Debian's server (.ci/setup-host installs `postgresql`), a cluster made by initdb in a
 * temp dir, run as the `postgres` user when the tests run as root (PostgreSQL refuses root), listening on a unix socket
 * in that dir only (no TCP), without fsync. stop() ends it (immediate shutdown) and removes the dir: nothing is left.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';

/** Where Debian puts a PostgreSQL version's server programs. */
const DEBIAN = '/usr/lib/postgresql';

/** The newest PostgreSQL server installed from Debian (its bin dir), or undefined. */
export function postgresBin(): string | undefined {
  if (!existsSync(DEBIAN)) return undefined;
  const versions = readdirSync(DEBIAN).filter((v) => /^\d+$/.test(v) && existsSync(join(DEBIAN, v, 'bin', 'initdb')));
  const newest = versions.map(Number).sort((a, b) => b - a)[0];
  return newest === undefined ? undefined : join(DEBIAN, String(newest), 'bin');
}

/** Why the PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresMissing(): string | undefined {
  if (!postgresBin()) return `PostgreSQL is not installed (no ${DEBIAN}/*/bin/initdb): .ci/setup-host installs Debian's postgresql`;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      return 'there is no `postgres` user to run PostgreSQL as (it refuses root): Debian\'s postgresql package makes it';
    }
  }
  return undefined;
}

export interface Postgres {
  /** A connection URL of the cluster's database `pcloud` (fresh, empty). */
  url: string;
  /** The temp dir that holds the cluster and its socket. */
  dir: string;
  /** The postmaster's process id. */
  pid: number;
  /** Make another empty database in the cluster; its connection URL. */
  createDatabase(name: string): Promise<string>;
  /** Stop the cluster at once and remove its dir. */
  stop(): Promise<void>;
}

/** The superuser initdb makes, with trust on the socket: only this process's user (and root) can reach the dir. */
const SUPERUSER = 'postgres';

/** The URL of database `name` of the cluster whose socket is in `dir` (pg reads the socket dir from `host`). */
function urlOf(dir: string, name: string): string {
  return `postgresql://${SUPERUSER}@/${encodeURIComponent(name)}?host=${encodeURIComponent(dir)}`;
}

/** Start a throwaway cluster with an empty database `pcloud`. */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBin();
  if (!bin) throw new Error(postgresMissing());
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-pg-'));
  // As root: the cluster is the postgres user's (its dir too); otherwise this user's own.
  const asRoot = process.getuid?.() === 0;
  const run = (program: string, args: string[]): [string, string[]] =>
    asRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--clear-groups', '--', join(bin, program), ...args]] : [join(bin, program), args];
  let server: ResultPromise | undefined;
  const stop = async (): Promise<void> => {
    if (server && server.exitCode === null) {
      // SIGQUIT: immediate shutdown, the postmaster ends its backends and exits (no checkpoint: nothing is kept).
      server.kill('SIGQUIT');
      await server.catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
    const data = join(dir, 'data');
    // C locale: text compares and sorts bytewise, as SQLite's BINARY collation does.
    await execa(...run('initdb', ['-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']),
      { env: { LC_ALL: 'C' }, stdin: 'ignore' });
    server = execa(...run('postgres', [
      '-D', data, '-k', dir, '-c', 'listen_addresses=',
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
    ]), { env: { LC_ALL: 'C' }, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false });
    await ready(server);
    const createDatabase = async (name: string): Promise<string> => {
      const admin = new pg.Client({ connectionString: urlOf(dir, 'postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await admin.end();
      }
      return urlOf(dir, name);
    };
    return { url: await createDatabase('pcloud'), dir, pid: server.pid!, createDatabase, stop };
  } catch (e) {
    await stop();
    throw new Error(`could not start a throwaway PostgreSQL as ${asRoot ? 'postgres' : userInfo().username}: ${(e as Error).message}`, { cause: e });
  }
}

/** Resolves when the server says it accepts connections; rejects with what it said if it exits first. */
function ready(server: ResultPromise): Promise<void> {
  return new Promise((resolve, reject) => {
    let said = '';
    server.stderr?.setEncoding('utf8');
    server.stderr?.on('data', (chunk: string) => {
      said = (said + chunk).slice(-8192);
      if (said.includes('database system is ready to accept connections')) resolve();
    });
    void server.then((r) => reject(new Error(`postgres exited (${r.exitCode ?? r.signal}) before it was ready: ${said.trim()}`)));
  });
}
