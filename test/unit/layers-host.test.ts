/**
 * Layers on the host for real (bwrap's confined unzip, as root): layer zips unpacked once by digest as hostile input
 * (links out, `..` entries, device entries, bombs), a function's /opt merged from its layers in order without following
 * a link any layer holds, bound read-only at /opt by both unit managers, and the runtimes' paths into it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PackageRefused } from '../../src/host/code-package.js';
import type { FunctionUnitOptions } from '../../src/host/functions.js';
import { layerPaths, lambdaEnvironment } from '../../src/host/function-runtime.js';
import { LayerStore, merge } from '../../src/host/layers.js';
import { passwdFiles, sandboxCommand } from '../../src/host/sandbox.js';
import { seccompProgram } from '../../src/host/sandbox-seccomp.js';
import { renderSocketUnits } from '../../src/host/units/socket-units.js';
import { directSpec } from '../../src/host/units/direct-spec.js';
import type { UnitSpec } from '../../src/host/units/types.js';

const root = process.getuid?.() === 0;
const bwrap = spawnSync('bwrap', ['--version']).status === 0;
const work = mkdtempSync(join(tmpdir(), 'pcloud-layers-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A zip made by zip(1) from files (a value starting with '->' is a symbolic link to the rest). */
function zip(files: Record<string, string | Buffer>): Buffer {
  const d = mkdtempSync(join(work, 'src-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(d, name, '..'), { recursive: true });
    if (typeof content === 'string' && content.startsWith('->')) symlinkSync(content.slice(2), join(d, name));
    else writeFileSync(join(d, name), content);
  }
  execFileSync('zip', ['-q', '-r', '-y', 'p.zip', ...Object.keys(files)], { cwd: d });
  return readFileSync(join(d, 'p.zip'));
}

/** A zip whose entries are named and typed as given (python's zipfile writes what zip(1) would not: `..`, devices). */
function rawZip(entries: { name: string; mode: number; data: string }[]): Buffer {
  const out = join(mkdtempSync(join(work, 'raw-')), 'p.zip');
  const script = `import json,sys,zipfile
z=zipfile.ZipFile(sys.argv[1],'w')
for e in json.loads(sys.argv[2]):
  i=zipfile.ZipInfo(e['name']); i.external_attr=e['mode']<<16; i.create_system=3; z.writestr(i,e['data'])
z.close()`;
  execFileSync('python3', ['-c', script, out, JSON.stringify(entries)]);
  return readFileSync(out);
}

const digest = (z: Buffer) => createHash('sha256').update(z).digest('hex');

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof PackageRefused)) throw new Error(`expected PackageRefused, got ${String(err)}`);
  return err.message;
}

describe.skipIf(!root || !bwrap)('layer zips on the host (confined unzip, as root)', () => {
  const store = new LayerStore(join(work, 'data'));

  it('unpacks a layer once by its digest, under the data dir, 0700, and says its unzipped size', async () => {
    const z = zip({ 'python/mod.py': 'X = 1\n' });
    expect(await store.unpack(digest(z), z)).toBe(6);
    const dir = store.contentDir(digest(z));
    expect(dir.startsWith(join(work, 'data', 'layers'))).toBe(true);
    expect(lstatSync(join(work, 'data', 'layers')).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, 'python/mod.py'), 'utf8')).toBe('X = 1\n');
    // Again: nothing unpacked twice (the tree is the same one).
    const ino = lstatSync(join(dir, 'python/mod.py')).ino;
    expect(await store.unpack(digest(z), z)).toBe(6);
    expect(lstatSync(join(dir, 'python/mod.py')).ino).toBe(ino);
    expect(() => store.contentDir('../../etc')).toThrow(/not a layer digest/);
    // What this host has, by digest (anything else in its dir is not a layer's).
    mkdirSync(join(work, 'data', 'layers', 'content', 'not-a-digest'));
    expect([store.has(digest(z)), await store.digests()]).toEqual([true, [digest(z)]]);
  });

  it('refuses links out and bombs as a function package is refused, leaving nothing', async () => {
    const out = zip({ 'lib/evil': '->../../../../pcloud.db' });
    expect(await refusal(store.unpack(digest(out), out))).toMatch(/symbolic link out of the package/);
    expect(existsSync(store.contentDir(digest(out)))).toBe(false);
    // Declared past 250 MB (zeros compress well): refused before anything is written.
    const bombDir = mkdtempSync(join(work, 'bomb-'));
    execFileSync('sh', ['-c', 'head -c 262144001 /dev/zero > zeros && zip -q p.zip zeros && rm zeros'], { cwd: bombDir });
    const bomb = readFileSync(join(bombDir, 'p.zip'));
    expect(await refusal(store.unpack(digest(bomb), bomb))).toBe('Unzipped size must be smaller than 262144000 bytes');
    expect(readdirSync(join(work, 'data', 'layers', 'content')).filter((f) => f.startsWith(digest(bomb)))).toEqual([]);
  });

  it('contains `..` entries and device entries: nothing outside the tree, no device made', async () => {
    const z = rawZip([
      { name: '../../escaped.txt', mode: 0o100644, data: 'out' },
      { name: 'python/../../up.txt', mode: 0o100644, data: 'up' },
      { name: 'dev/null', mode: 0o020666, data: '' },
      { name: 'python/ok.py', mode: 0o100644, data: 'OK = 1' },
    ]);
    await store.unpack(digest(z), z).catch((e: unknown) => {
      if (!(e instanceof PackageRefused)) throw e;
    });
    expect(existsSync(join(work, 'escaped.txt'))).toBe(false);
    expect(existsSync(join(work, 'data', 'escaped.txt'))).toBe(false);
    expect(existsSync(join(work, 'data', 'layers', 'escaped.txt'))).toBe(false);
    expect(existsSync(join(work, 'data', 'layers', 'up.txt'))).toBe(false);
    const dir = store.contentDir(digest(z));
    if (existsSync(dir)) {
      const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (lstatSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
      for (const f of walk(dir)) {
        const st = lstatSync(f);
        expect(st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO() || st.isSocket(), f).toBe(false);
      }
    }
  });
});

describe('a function\'s /opt: its layers merged in order', () => {
  it('later layers replace earlier paths (a file, a directory where a file was), directories merge, hard links', async () => {
    const a = mkdtempSync(join(work, 'a-'));
    const b = mkdtempSync(join(work, 'b-'));
    mkdirSync(join(a, 'python'), { recursive: true });
    writeFileSync(join(a, 'python/mod.py'), 'A');
    writeFileSync(join(a, 'python/only_a.py'), 'a');
    writeFileSync(join(a, 'bin'), 'a file where b has a dir');
    mkdirSync(join(b, 'python'), { recursive: true });
    writeFileSync(join(b, 'python/mod.py'), 'B');
    mkdirSync(join(b, 'bin'));
    writeFileSync(join(b, 'bin/tool'), 'tool');
    const opt = mkdtempSync(join(work, 'opt-'));
    await merge(a, opt);
    await merge(b, opt);
    expect(readFileSync(join(opt, 'python/mod.py'), 'utf8')).toBe('B');
    expect(readFileSync(join(opt, 'python/only_a.py'), 'utf8')).toBe('a');
    expect(readFileSync(join(opt, 'bin/tool'), 'utf8')).toBe('tool');
    expect(lstatSync(join(opt, 'python/only_a.py')).ino).toBe(lstatSync(join(a, 'python/only_a.py')).ino);
  });

  it('never writes through a link an earlier layer holds (a chain of links that resolves above the tree)', async () => {
    const outside = mkdtempSync(join(work, 'outside-'));
    const top = mkdtempSync(join(outside, 'store-'));
    const a = join(top, 'a');
    const b = join(top, 'b');
    mkdirSync(join(a, 'd1'), { recursive: true });
    // Each link stays inside by its text; together they lead up: d1/up -> .., deep -> d1/up/.. (really: above a).
    symlinkSync('..', join(a, 'd1/up'));
    symlinkSync('d1/up/..', join(a, 'deep'));
    mkdirSync(join(b, 'deep'), { recursive: true });
    writeFileSync(join(b, 'deep/planted'), 'x');
    const opt = join(top, 'opt');
    mkdirSync(opt);
    await merge(a, opt);
    await merge(b, opt);
    expect(lstatSync(join(opt, 'deep')).isDirectory()).toBe(true);
    expect(readFileSync(join(opt, 'deep/planted'), 'utf8')).toBe('x');
    expect(existsSync(join(top, 'planted'))).toBe(false);
    expect(existsSync(join(outside, 'planted'))).toBe(false);
    expect(readlinkSync(join(opt, 'd1/up'))).toBe('..');
  });

  it('is made once per ordered list of layers (one layer: its own tree), and goes with a layer that goes', async () => {
    const store = new LayerStore(join(work, 'data2'));
    const [d1, d2] = ['a', 'b'].map((c) => c.repeat(64));
    for (const [d, body] of [[d1!, '1'], [d2!, '2']] as const) {
      mkdirSync(join(store.contentDir(d), 'python'), { recursive: true });
      writeFileSync(join(store.contentDir(d), 'python/mod.py'), body);
      writeFileSync(`${store.contentDir(d)}.size`, '1');
    }
    expect(await store.opt([])).toBeUndefined();
    expect(await store.opt([d1!])).toBe(store.contentDir(d1!));
    const both = await store.opt([d1!, d2!]);
    expect(both).toBe(store.optPath([d1!, d2!]));
    expect(readFileSync(join(both!, 'python/mod.py'), 'utf8')).toBe('2');
    const reversed = await store.opt([d2!, d1!]);
    expect(readFileSync(join(reversed!, 'python/mod.py'), 'utf8')).toBe('1');
    await store.remove(d2!);
    expect(existsSync(both!)).toBe(false);
    expect(existsSync(reversed!)).toBe(false);
    expect(existsSync(store.contentDir(d1!))).toBe(true);
  });
});

describe('/opt in the units', () => {
  const sandboxed: UnitSpec = {
    name: 'pcloud-fn-x', description: 'x', exec: ['/usr/bin/python3', 'shim.py'], env: { A: 'b' }, type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5,
    socket: { listen: '/run/pcloud/t/x.sock', accept: false, mode: 0o600 },
    sandbox: { code: '/srv/code', readOnly: [], hidden: ['/var/lib/pcloud'], opt: '/var/lib/pcloud/layers/opt/abc' },
  };

  it('systemd binds the merged tree read-only at /opt; a path a unit file cannot carry is refused', () => {
    const files = renderSocketUnits(sandboxed);
    expect(files.service.text.split('\n')).toContain('BindReadOnlyPaths=/var/lib/pcloud/layers/opt/abc:/opt');
    for (const bad of ['/srv/o pt', '/srv/opt\nUser=root', '/srv/$x', '/srv/%i', '/srv/a;b', '/srv/{x}', '/srv/"q"', '/srv/nul\0', `/${'a'.repeat(100_000)} b`]) {
      expect(() => renderSocketUnits({ ...sandboxed, sandbox: { ...sandboxed.sandbox!, opt: bad } }), JSON.stringify(bad.slice(0, 20))).toThrow(/cannot name the path/);
    }
  });

  it('the direct manager binds it read-only at /opt with bwrap; no runtime of the host may be under /opt beside it', () => {
    const box = { uid: 61998, seccomp: '/s.bpf', passwd: '/p', group: '/g' };
    const argv = directSpec(sandboxed, box).exec;
    const at = argv.indexOf('/var/lib/pcloud/layers/opt/abc');
    expect(argv.slice(at - 1, at + 2)).toEqual(['--ro-bind', '/var/lib/pcloud/layers/opt/abc', '/opt']);
    expect(() => directSpec({ ...sandboxed, sandbox: { ...sandboxed.sandbox!, readOnly: ['/opt/node'] } }, box)).toThrow(/under \/opt/);
  });

  it('sets the runtimes\' paths into /opt as Lambda does, for functions with layers only', () => {
    expect(layerPaths('python3.12')).toEqual({
      PATH: '/usr/local/bin:/usr/bin:/bin:/opt/bin', LD_LIBRARY_PATH: '/var/task/lib:/opt/lib', PYTHONPATH: '/opt/python/lib/python3.12/site-packages:/opt/python',
    });
    expect(layerPaths('nodejs20.x').NODE_PATH).toBe('/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/task');
    const o: FunctionUnitOptions = {
      key: 'k', functionName: 'f', version: '$LATEST', arn: 'arn', codeDir: '/c', memoryMiB: 128, timeoutSec: 3, mode: 'warm', idleSec: 60,
      region: 'us-east-1', runtime: 'python3.12', handler: 'a.b', environment: { PYTHONPATH: 'mine' },
    };
    expect(lambdaEnvironment(o).PATH).toBe('/usr/local/bin:/usr/bin:/bin');
    expect(lambdaEnvironment({ ...o, layers: ['a'.repeat(64)] })).toMatchObject({ PATH: '/usr/local/bin:/usr/bin:/bin:/opt/bin', PYTHONPATH: 'mine' });
  });
});

describe.skipIf(!root || !bwrap)('/opt in the direct manager\'s sandbox, for real', () => {
  const data = join(work, 'sbx');
  const opt = join(data, 'layers/opt/merged');
  let spec: Parameters<typeof sandboxCommand>[0];
  beforeAll(async () => {
    mkdirSync(join(opt, 'python'), { recursive: true });
    mkdirSync(join(data, 'code'), { recursive: true });
    writeFileSync(join(opt, 'python/mod.py'), 'X = 42\n');
    const files = passwdFiles(61997);
    writeFileSync(join(data, 'passwd'), files.passwd);
    writeFileSync(join(data, 'group'), files.group);
    spec = {
      uid: 61997, codeDir: join(data, 'code'), optDir: opt, readOnly: [], seccomp: await seccompProgram(join(data, 'run')), passwd: join(data, 'passwd'),
      group: join(data, 'group'), env: { PATH: '/usr/bin:/bin', PYTHONPATH: '/opt/python' }, command: [],
    };
  });

  it('a handler imports from /opt and cannot write there', () => {
    const script = 'import mod, os\nprint(mod.X)\ntry:\n  open("/opt/python/mod.py", "a")\n  print("wrote")\nexcept OSError:\n  print("denied")\ntry:\n  os.mkdir("/opt/new")\n  print("made")\nexcept OSError:\n  print("denied")\n';
    const [file, ...args] = sandboxCommand({ ...spec, command: ['/usr/bin/python3', '-c', script] });
    const res = spawnSync(file!, args, { encoding: 'utf8' });
    expect(res.stderr).toBe('');
    expect(res.stdout.trim().split('\n')).toEqual(['42', 'denied', 'denied']);
  });
});
