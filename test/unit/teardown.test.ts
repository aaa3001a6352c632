/**
 * `pcloud down`'s pure parts (src/host/teardown.ts, src/cli/down.ts): the order units stop in, which mounts are the
 * data dir's, its NFS port, what counts as a data dir, and the summary (a hostile path stays on its line).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downSummary } from '../../src/cli/down.js';
import { mountsUnder, nfsPortOf, notADataDir, stopOrder, type DownReport } from '../../src/host/teardown.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-teardown-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('stopOrder', () => {
  it('stops instances first, then their TPMs, functions, VPC DNS, nginx, tgtd and ganesha; unknown names last', () => {
    expect(stopOrder(['pcloud-nfs', 'pcloud-nginx', 'pcloud-dns@vpc-1', 'pcloud-odd', 'pcloud-tpm@i-1', 'pcloud-instance@i-2',
      'pcloud-instance@i-1', 'pcloud-fn-111-f-latest', 'pcloud-fnfront-111-f-latest', 'pcloud-iscsi'])).toEqual([
      ['pcloud-instance@i-1', 'pcloud-instance@i-2'], ['pcloud-tpm@i-1'], ['pcloud-fn-111-f-latest', 'pcloud-fnfront-111-f-latest'],
      ['pcloud-dns@vpc-1'], ['pcloud-nginx'], ['pcloud-iscsi'], ['pcloud-nfs'], ['pcloud-odd'],
    ]);
    expect(stopOrder([])).toEqual([]);
  });
});

describe('mountsUnder', () => {
  const line = (point: string) => `36 25 0:32 / ${point} rw,relatime shared:1 - btrfs /dev/loop0 rw`;
  it('takes the data dir and what is under it, deepest first; a sibling sharing its prefix is not under it', () => {
    const info = [line('/'), line('/var/d'), line('/var/d/pool'), line('/var/d/run/nfs/exports/vol-1'), line('/var/d2/pool'), line('/var/dx')].join('\n');
    expect(mountsUnder(info, '/var/d')).toEqual(['/var/d/run/nfs/exports/vol-1', '/var/d/pool', '/var/d']);
    expect(mountsUnder(info, '/elsewhere')).toEqual([]);
  });
  it('reads mountinfo\'s octal escapes (a space, a newline in a path)', () => {
    expect(mountsUnder(line('/var/my\\040data/pool'), '/var/my data')).toEqual(['/var/my data/pool']);
    expect(mountsUnder(line('/var/a\\012b/pool'), '/var/a\nb')).toEqual(['/var/a\nb/pool']);
  });
});

describe('nfsPortOf', () => {
  it('is the port ganesha.conf says, or none', () => {
    expect(nfsPortOf('NFS_CORE_PARAM {\n  Protocols = 4;\n  NFS_Port = 2049;\n}\n')).toBe(2049);
    expect(nfsPortOf('')).toBeUndefined();
  });
});

describe('notADataDir', () => {
  it('is a directory with a SQLite state database, or one a server ran on (its lock and run dir)', () => {
    const sqlite = join(base, 'sqlite');
    mkdirSync(sqlite);
    writeFileSync(join(sqlite, 'pcloud.db'), '');
    const pg = join(base, 'pg');
    mkdirSync(join(pg, 'run'), { recursive: true });
    writeFileSync(join(pg, 'lock'), '');
    expect(notADataDir(sqlite)).toBeUndefined();
    expect(notADataDir(pg)).toBeUndefined();
    // Nothing there: nothing of it can run (takeDown says so, and stops nothing).
    expect(notADataDir(join(base, 'absent'))).toBeUndefined();
  });
  it('refuses the root, a symlink (even to a data dir), a file, and a directory that is no data dir', () => {
    const file = join(base, 'file');
    writeFileSync(file, '');
    const link = join(base, 'link');
    symlinkSync(join(base, 'sqlite'), link);
    const other = join(base, 'other');
    mkdirSync(join(other, 'run'), { recursive: true });
    expect(notADataDir('/')).toMatch(/root directory/);
    expect(notADataDir(link)).toMatch(/symbolic link/);
    expect(notADataDir(file)).toMatch(/not a directory/);
    expect(notADataDir(other)).toMatch(/no pcloud\.db/);
  });
});

describe('downSummary', () => {
  const report = (r: Partial<DownReport>): DownReport => ({ dataDir: '/d', stopped: [], instances: [], namespaces: [], tables: [], mounts: [], removed: false, ...r });
  it('says what was stopped, and that the instances come back with the next server', () => {
    expect(downSummary(report({ stopped: ['pcloud-instance@i-1', 'pcloud-nginx'], instances: ['pcloud-instance@i-1'] }), false)).toBe(
      'stopped 2 units of /d: pcloud-instance@i-1, pcloud-nginx\n'
      + 'their disks and records are kept: `pcloud serve --data /d` starts the 1 instance again\n');
  });
  it('says when nothing runs, and what --purge removed or why it kept the files', () => {
    expect(downSummary(report({}), false)).toBe('nothing of /d runs\n');
    expect(downSummary(report({ namespaces: ['pcloud-vpc-1'], tables: ['inet pcloud_nfs_2049'], mounts: ['/d/pool'], removed: true }), true)).toBe(
      'nothing of /d runs\nremoved network namespaces: pcloud-vpc-1\nremoved nft tables: inet pcloud_nfs_2049\nunmounted: /d/pool\nremoved /d\n');
    expect(downSummary(report({}), true)).toBe('nothing of /d runs\n/d kept: something stays mounted under it (see findmnt -R /d)\n');
    expect(downSummary(report({ absent: true }), true)).toBe('no data dir at /d: nothing of it runs\n');
  });
  it('keeps a hostile path on its line: control characters shown as ?', () => {
    const out = downSummary(report({ dataDir: '/d\n\u001b[31mred\u0007', mounts: ['/d\n\u001b[31mred\u0007/pool'], removed: true }), true);
    expect(out).toBe('nothing of /d??[31mred? runs\nunmounted: /d??[31mred?/pool\nremoved /d??[31mred?\n');
  });
});
