/**
 * Two servers on one SQLite file (issue 17), as two connections: a read-decide-write transaction (here the launch
 * template version counter) while the other connection would commit between its read and its write. With deferred
 * transactions the first one's write failed with SQLITE_BUSY_SNAPSHOT ("database is locked"); write() (src/db/store.ts)
 * begins IMMEDIATE, so the other server cannot take the write lock in between: it queues (busy_timeout), and both
 * versions are made, numbered one after the other.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../src/db/index.js';
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

/** Whether `db` could take the write lock right now, without waiting for it: 'ok' (taken and given back) or the error's code. */
function tryLock(db: Db): string {
  const was = db.$client.pragma('busy_timeout', { simple: true }) as number;
  db.$client.pragma('busy_timeout = 0');
  try {
    db.$client.exec('BEGIN IMMEDIATE');
    db.$client.exec('ROLLBACK');
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    db.$client.pragma(`busy_timeout = ${was}`);
  }
}

describe('two connections on one database', () => {
  it('a counter read in a transaction stays true until it commits: the other server waits, no SQLITE_BUSY_SNAPSHOT, no number twice', async () => {
    const file = join(base, 'counter.db');
    const a = openDb(file);
    const b = openDb(file);
    const onA = new LaunchTemplates(a, new Tags(a));
    const onB = new LaunchTemplates(b, new Tags(b));
    const { template } = await onA.create('111111111111', { name: 'raced', data: { ImageId: 'ami-1' }, tags: [] });
    let meanwhile = '';
    interleave(a, /insert into "launch_template_versions"/i, () => { meanwhile = tryLock(b); });
    const v = await onA.createVersion('111111111111', { id: template.id }, { data: { ImageId: 'ami-a' } });
    // B could not commit between A's read and A's write (it would wait on busy_timeout); A's transaction went through.
    expect(meanwhile).toBe('SQLITE_BUSY');
    expect(v.version).toBe(2);
    const later = await onB.createVersion('111111111111', { id: template.id }, { data: { ImageId: 'ami-b' } });
    expect(later.version).toBe(3);
    const all = (await onA.describeVersions('111111111111', { id: template.id }, { versions: [] })).versions;
    expect(all.map((x) => [x.version, x.data.ImageId])).toEqual([[1, 'ami-1'], [2, 'ami-a'], [3, 'ami-b']]);
    a.$client.close();
    b.$client.close();
  });

});
