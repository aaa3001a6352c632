/**
 * `pcloud down` on the host (src/host/teardown.ts) with real supervisors (compiled: `npm run build` first), network
 * namespaces and a mount: only the data dir's own units and namespaces are taken down, never another data dir's;
 * nothing while a server holds it; --purge unmounts and deletes, and a symlink in the data dir is not followed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError } from '../../src/host/datalock.js';
import { nsPath } from '../../src/host/network.js';
import { Owners } from '../../src/host/owners.js';
import { takeDown, takenDown } from '../../src/host/teardown.js';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { isFinal, type UnitSpec } from '../../src/host/units/types.js';
import { rejected } from '../support/thrown.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const base = mkdtempSync(join(tmpdir(), 'pcloud-down-'));
const tag = `${process.pid.toString(16)}${Date.now().toString(16).slice(-6)}`;
const nsA = `pcloud-i-tda${tag}`;
const nsB = `pcloud-i-tdb${tag}`;

afterAll(async () => {
  // Whatever a failure left: both data dirs' units, namespaces and mount, and their records.
  for (const d of ['a', 'b']) await takeDown(join(base, d), { purge: true }).catch(() => undefined);
  for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns]);
  await new Owners('netns', join(base, 'a')).release(nsA);
  await new Owners('netns', join(base, 'b')).release(nsB);
  spawnSync('umount', ['-l', join(base, 'a', 'pool')]);
  rmSync(base, { recursive: true, force: true });
});

const sleeper = (name: string): UnitSpec => ({
  name, description: 'test', exec: ['sh', '-c', 'exec sleep 3600', tag], type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5,
});

/** A data dir (SQLite's marker) whose direct manager runs `units`, and a namespace recorded as its. */
async function dataDir(name: string, units: string[], ns: string): Promise<string> {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pcloud.db'), '');
  const m = new DirectUnitManager(join(dir, 'run'));
  await m.init();
  try {
    for (const u of units) await m.start(sleeper(u));
  } finally {
    m.close();
  }
  await new Owners('netns', dir).claim(ns);
  expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
  return dir;
}

async function running(dir: string): Promise<string[]> {
  const m = new DirectUnitManager(join(dir, 'run'));
  try {
    return (await m.list('')).filter((u) => !isFinal(u.state)).map((u) => u.name).sort();
  } finally {
    m.close();
  }
}

/** Another process holding a data dir, as a running server does. */
function holder(dir: string): Promise<ChildProcess> {
  const code = `import(${JSON.stringify(join(ROOT, 'dist/src/host/datalock.js'))}).then(async (m) => {
    await m.lockDataDir(${JSON.stringify(dir)}, 'pcloud serve --listen 127.0.0.1:1'); process.stdout.write('held\\n'); setInterval(() => {}, 1000); })`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('held')) resolve(child); });
    child.on('exit', (c) => reject(new Error(`holder exited ${c}`)));
  });
}

describe('taking a data dir down', () => {
  it('stops only its own units, nothing while a server holds it, and says nothing runs the second time; --purge removes its namespaces, mounts and files only', async () => {
    const a = await dataDir('a', ['pcloud-instance@i-0a', 'pcloud-nginx'], nsA);
    const b = await dataDir('b', ['pcloud-nginx'], nsB);

    // A server holds it: refused, saying how to stop it; nothing stopped.
    const server = await holder(a);
    try {
      const err = await rejected(() => takeDown(a));
      expect(err).toBeInstanceOf(DataDirInUseError);
      expect((err as Error).message).toBe(`data dir ${a} is in use by pcloud serve --listen 127.0.0.1:1, pid ${server.pid}: stop it first `
        + `(kill -TERM ${server.pid}, or systemctl stop pcloud where it runs as that service), then run pcloud down again; nothing was stopped`);
      expect(await running(a)).toEqual(['pcloud-instance@i-0a', 'pcloud-nginx']);
    } finally {
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
    }

    const first = await takeDown(a);
    expect(first).toMatchObject({ stopped: ['pcloud-instance@i-0a', 'pcloud-nginx'], instances: ['pcloud-instance@i-0a'], namespaces: [] });
    expect(await running(a)).toEqual([]);
    expect(await running(b)).toEqual(['pcloud-nginx']);
    // Its instances come back with its next server; its namespace stays until --purge.
    expect(await takenDown(a)).toBe(true);
    expect(existsSync(nsPath(nsA))).toBe(true);
    expect((await takeDown(a)).stopped).toEqual([]);

    // --purge: its namespace, its mount, its files; a symlink in it is removed, not followed; b's are untouched.
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'kept');
    symlinkSync(outside, join(a, 'link'));
    mkdirSync(join(a, 'pool'));
    expect(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', join(a, 'pool')]).status).toBe(0);
    writeFileSync(join(a, 'pool', 'disk'), '');
    const purged = await takeDown(a, { purge: true });
    expect(purged).toMatchObject({ stopped: [], namespaces: [nsA], mounts: [join(a, 'pool')], removed: true });
    expect(existsSync(a)).toBe(false);
    expect(existsSync(nsPath(nsA))).toBe(false);
    expect(await new Owners('netns', a).recorded()).toEqual([]);
    expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('kept');
    expect(existsSync(nsPath(nsB))).toBe(true);
    expect(await new Owners('netns', b).recorded()).toEqual([nsB]);
    expect(await running(b)).toEqual(['pcloud-nginx']);
    // Gone: nothing of it runs, and a second --purge says so.
    expect(await takeDown(a, { purge: true })).toMatchObject({ absent: true, stopped: [] });
  });
});
