/**
 * Two servers on one SQLite file (issue 17), as two connections: a read-decide-write transaction (here the launch
 * template version counter) while the other connection commits between its read and its write. With deferred
 * transactions the first one's write failed with SQLITE_BUSY_SNAPSHOT ("database is locked"); openDb's transactions
 * are BEGIN IMMEDIATE, so the other server cannot commit in between: it queues (busy_timeout), and both versions are
 * made, numbered one after the other.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../src/db/index.js';
import { sql } from 'drizzle-orm';
import { launchTemplates } from '../../src/db/schema.js';
import { LaunchTemplates } from '../../src/cloud/launch-templates.js';
import { Tags } from '../../src/cloud/tags.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-race-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/**
 * Runs `between` once, just before `db` prepares the first statement matching `when` (inside the transaction, after
 * its reads): the moment another server's commit would race with it.
 */
function interleave(db: Db, when: RegExp, between: () => void): void {
  const client = db.$client;
  const prepare = client.prepare.bind(client);
  let done = false;
  client.prepare = ((source: string) => {
    if (!done && when.test(source)) {
      done = true;
      between();
    }
    return prepare(source);
  });
}

/** What a write on `db` gives right now without waiting for the lock: 'ok' or the error's code. */
function tryWrite(db: Db, write: () => unknown): string {
  const was = db.$client.pragma('busy_timeout', { simple: true }) as number;
  db.$client.pragma('busy_timeout = 0');
  try {
    write();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    db.$client.pragma(`busy_timeout = ${was}`);
  }
}

describe('two connections on one database', () => {
  it('a counter read in a transaction stays true until it commits: the other server waits, no SQLITE_BUSY_SNAPSHOT, no number twice', () => {
    const file = join(base, 'counter.db');
    const a = openDb(file);
    const b = openDb(file);
    const onA = new LaunchTemplates(a, new Tags(a));
    const onB = new LaunchTemplates(b, new Tags(b));
    const { template } = onA.create('111111111111', { name: 'raced', data: { ImageId: 'ami-1' }, tags: [] });
    let meanwhile = '';
    interleave(a, /insert into "launch_template_versions"/i, () => {
      meanwhile = tryWrite(b, () => onB.createVersion('111111111111', { id: template.id }, { data: { ImageId: 'ami-b' } }));
    });
    const v = onA.createVersion('111111111111', { id: template.id }, { data: { ImageId: 'ami-a' } });
    // B could not commit between A's read and A's write (it would wait on busy_timeout); A's transaction went through.
    expect(meanwhile).toBe('SQLITE_BUSY');
    expect(v.version).toBe(2);
    const later = onB.createVersion('111111111111', { id: template.id }, { data: { ImageId: 'ami-b' } });
    expect(later.version).toBe(3);
    const all = onA.describeVersions('111111111111', { id: template.id }, { versions: [] }).versions;
    expect(all.map((x) => [x.version, x.data.ImageId])).toEqual([[1, 'ami-1'], [2, 'ami-a'], [3, 'ami-b']]);
    a.$client.close();
    b.$client.close();
  });

  it('a transaction may still ask for deferred (read-only ones): then the other connection commits in between', () => {
    const file = join(base, 'deferred.db');
    const a = openDb(file);
    const b = openDb(file);
    const onB = new LaunchTemplates(b, new Tags(b));
    let meanwhile = '';
    const count = (tx: Pick<Db, 'select'>) => tx.select({ n: sql<number>`count(*)` }).from(launchTemplates).get()!.n;
    const seen = a.transaction((tx) => {
      const before = count(tx);
      meanwhile = tryWrite(b, () => onB.create('111111111111', { name: 'meanwhile', data: { ImageId: 'ami-1' }, tags: [] }));
      return [before, count(tx)];
    }, { behavior: 'deferred' });
    expect(meanwhile).toBe('ok');
    // The deferred reader keeps its snapshot: it does not see B's commit until it ends.
    expect(seen).toEqual([0, 0]);
    a.$client.close();
    b.$client.close();
  });
});
