/**
 * A volume moving between hosts (cloud/volume-moves.ts), the host's part for real: pcloud's tgtd (its own control and
 * iSCSI ports here) exports a volume's file on an address of the giving host to the taking host's address only, and
 * the taking host copies it whole with qemu-img's iscsi:// driver (IscsiTarget.copyFrom), sparse where it reads zeroes.
 * The taking host is a network namespace of its own on a veth pair (two hosts on an underlay); another address is
 * refused, and a refused copy leaves no file; the export is read-only; a copy stopped (its move given up) ends qemu-img
 * and leaves nothing; and on the copying host, no unprivileged
 * process (a Lambda handler) reaches the portal it copies from (the guard copyFrom puts in front of it). The domain's part (the handshake in the state database, what happens when
 * a host does not answer) is proven on fake hosts over a real PostgreSQL: test/api/hosts-join.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IscsiTarget } from '../../src/host/iscsi.js';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { projectRoot } from '../../src/paths.js';

const NS = 'pcloud-iscsi-taker';
const GIVER = '10.251.7.1';
const TAKER = '10.251.7.2';
const MiB = 1 << 20;
const PY = '/usr/bin/python3';
const built = join(projectRoot(), 'dist/src/host/iscsi.js');
const why = process.getuid?.() !== 0 ? 'needs root (a network namespace, tgtd)'
  : !existsSync('/usr/sbin/tgtd') ? 'needs tgtd (Debian\'s tgt)'
    : !existsSync('/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so') ? 'needs QEMU\'s iscsi:// driver (qemu-block-extra)'
      : !existsSync(built) ? 'needs the build (npm run build): the copy runs in the taking host\'s namespace from dist/'
        : '';
if (why) console.log(`moving a volume between hosts over iSCSI is skipped: it ${why}`);

const AT_ONCE = ['vol-0123456789abcde20', 'vol-0123456789abcde21', 'vol-0123456789abcde22'];
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });
let dir: string;
let units: DirectUnitManager;
let target: IscsiTarget;

describe.skipIf(why)('a volume copied from another host over iSCSI', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcloud-iscsi-move-'));
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('ip', ['link', 'del', 'pisc-give']);
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['link', 'add', 'pisc-give', 'type', 'veth', 'peer', 'name', 'pisc-take', 'netns', NS]);
    sh('ip', ['addr', 'add', `${GIVER}/30`, 'dev', 'pisc-give']);
    sh('ip', ['link', 'set', 'pisc-give', 'up']);
    sh('ip', ['-n', NS, 'addr', 'add', `${TAKER}/30`, 'dev', 'pisc-take']);
    sh('ip', ['-n', NS, 'link', 'set', 'pisc-take', 'up']);
    sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    units = new DirectUnitManager(join(dir, 'run'));
    await units.init();
    target = new IscsiTarget(units, { controlPort: 61, port: 13260 });
    // Asked twice at once (two VMs attaching on a host whose tgtd is not running yet): started once, both answered.
    await Promise.all([target.ensure(), target.ensure()]);
    await target.addPortal(GIVER);
  }, 60_000);

  afterAll(async () => {
    await target?.unexport('vol-0123456789abcdef0').catch(() => undefined);
    await target?.unexport('vol-0123456789abcdef1').catch(() => undefined);
    for (const v of AT_ONCE) await target?.unexport(v).catch(() => undefined);
    // tgtd ends on SIGTERM only once told its system is gone (host-facts); its targets went with unexport.
    spawnSync('tgtadm', ['-C', '61', '--op', 'delete', '--mode', 'system']);
    await units?.stop('pcloud-iscsi').catch(() => undefined);
    units?.close();
    spawnSync('ip', ['link', 'del', 'pisc-give']);
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('nft', ['delete', 'table', 'inet', 'pcloud_iscsi_guard']);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('the taking host copies it whole, sparse; another address is refused and a refused copy leaves nothing', async () => {
    const vol = 'vol-0123456789abcdef0';
    const file = join(dir, `${vol}.raw`);
    // 64 MiB, written at its start and at 40 MiB, holes elsewhere.
    const fh = await open(file, 'w');
    await fh.truncate(64 * MiB);
    await fh.write(Buffer.from('written on the giving host'), 0, undefined, 0);
    await fh.write(Buffer.alloc(MiB, 0x5a), 0, MiB, 40 * MiB);
    await fh.close();
    await target.export(vol, file, TAKER, { readOnly: true });
    const uri = target.uri(vol, GIVER);

    // From the giving host's own address (not the taker's): refused, no file, no part of one.
    const refused = join(dir, 'refused.raw');
    await expect(target.copyFrom(uri, refused, 30_000)).rejects.toThrow();
    expect(existsSync(refused) || existsSync(`${refused}.tmp`)).toBe(false);

    // The refused copy put the guard up here: root's connections reach the portal, an unprivileged user's do not.
    const connects = (asUser: boolean) => spawnSync(asUser ? 'setpriv' : PY, [...(asUser ? ['--reuid=65534', '--regid=65534', '--clear-groups', PY] : []),
      '-c', `import socket\nsocket.create_connection(("${GIVER}", 13260), timeout=3).close()`]).status === 0;
    expect(connects(false)).toBe(true);
    expect(connects(true)).toBe(false);

    // From the taking host's namespace, through the same code (the build's).
    const copy = join(dir, 'taken.raw');
    const script = `import(${JSON.stringify(built)}).then((m) => new m.IscsiTarget(undefined, { controlPort: 61, port: 13260 }).copyFrom(${JSON.stringify(uri)}, ${JSON.stringify(copy)}, 60000))`;
    sh('ip', ['netns', 'exec', NS, process.execPath, '-e', script]);
    expect(existsSync(`${copy}.tmp`)).toBe(false);
    expect(statSync(copy).size).toBe(64 * MiB);
    expect((await readFile(copy)).equals(await readFile(file))).toBe(true);
    // Holes stay holes: what is allocated is about the 1 MiB written, not 64.
    expect(statSync(copy).blocks * 512).toBeLessThan(8 * MiB);
    // Read-only for the taker: a write is refused, the giver's file unchanged.
    const wrote = spawnSync('ip', ['netns', 'exec', NS, 'qemu-io', '-f', 'raw', '-c', 'write -P 0x41 0 512', uri], { encoding: 'utf8' });
    expect(`${wrote.status} ${wrote.stdout} ${wrote.stderr}`).toMatch(/write protected/i);
    expect((await readFile(file)).subarray(0, 26).toString()).toBe('written on the giving host');
  }, 120_000);

  it('a copy whose move is given up stops: qemu-img ended, nothing of the copy left', async () => {
    const vol = 'vol-0123456789abcdef1';
    const file = join(dir, `${vol}.raw`);
    // 8 GiB of holes: read whole over iSCSI, it takes seconds; stopped 300 ms after it started.
    const fh = await open(file, 'w');
    await fh.truncate(8 * 1024 * MiB);
    await fh.close();
    await target.export(vol, file, TAKER, { readOnly: true });
    const copy = join(dir, 'stopped.raw');
    const script = `import(${JSON.stringify(built)}).then(async (m) => {
      const signal = AbortSignal.timeout(300);
      const out = await new m.IscsiTarget(undefined, { controlPort: 61, port: 13260 }).copyFrom(${JSON.stringify(target.uri(vol, GIVER))}, ${JSON.stringify(copy)}, 120000, signal).then(() => 'copied', () => 'stopped');
      console.log(JSON.stringify({ out, aborted: signal.aborted }));
    })`;
    const res = JSON.parse(execFileSync('ip', ['netns', 'exec', NS, process.execPath, '-e', script]).toString()) as { out: string; aborted: boolean };
    expect(res).toMatchObject({ out: 'stopped', aborted: true });
    expect([existsSync(copy), existsSync(`${copy}.tmp`)]).toEqual([false, false]);
    expect(spawnSync('pgrep', ['-f', `qemu-img convert .*${vol}`]).status).toBe(1);
    // Listed while exported (a host catching up closes what no move needs), not once closed.
    expect(await target.exportedVolumes()).toEqual(expect.arrayContaining([vol]));
    await target.unexport(vol);
    expect(await target.exportedVolumes()).not.toContain(vol);
  }, 120_000);

  it('exports asked at once (volumes attached to several VMs together, a move beside them) each get a target of their own', async () => {
    const files = await Promise.all(AT_ONCE.map(async (v) => {
      const file = join(dir, `${v}.raw`);
      const fh = await open(file, 'w');
      await fh.truncate(MiB);
      await fh.close();
      return file;
    }));
    await Promise.all(AT_ONCE.map((v, i) => target.export(v, files[i]!, TAKER)));
    expect(await target.exportedVolumes()).toEqual(expect.arrayContaining(AT_ONCE));
    const tids = [...(await target.targets()).entries()].filter(([iqn]) => AT_ONCE.some((v) => iqn.endsWith(v))).map(([, tid]) => tid);
    expect(new Set(tids).size).toBe(AT_ONCE.length);
    await Promise.all(AT_ONCE.map((v) => target.unexport(v)));
    expect((await target.exportedVolumes()).filter((v) => AT_ONCE.includes(v))).toEqual([]);
  }, 60_000);
});
