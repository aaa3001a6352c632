/** Deployment packages as hostile input: Lambda's unzipped-size limit (declared and real), links out, no leftovers. */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confined, PackageRefused, unpackPackage, UNZIPPED_MAX } from '../../src/host/code-package.js';

const work = mkdtempSync(join(tmpdir(), 'pcloud-pkg-'));
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

/** The same zip with its headers claiming every entry is 10 bytes unzipped (a lying central directory). */
function lying(z: Buffer): Buffer {
  const b = Buffer.from(z);
  for (const [sig, at] of [[0x02014b50, 24], [0x04034b50, 22]] as const) {
    for (let i = b.indexOf(Buffer.from(new Uint32Array([sig]).buffer)); i >= 0; i = b.indexOf(Buffer.from(new Uint32Array([sig]).buffer), i + 4)) {
      b.writeUInt32LE(10, i + at);
    }
  }
  return b;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof PackageRefused)) throw new Error(`expected PackageRefused, got ${String(err)}`);
  return err.message;
}

/** A parent dir for one unpack, to see that nothing but the code dir is ever left in it. */
const parent = () => mkdtempSync(join(work, 'fn-'));

describe('unpacking a deployment package', () => {
  it('unpacks files, directories and links that stay inside the package', async () => {
    const p = parent();
    await unpackPackage(zip({ 'index.mjs': 'export const handler = 1', 'node_modules/a/bin.js': 'x', 'node_modules/.bin/a': '->../a/bin.js' }), join(p, 'rev'));
    expect(readdirSync(p)).toEqual(['rev']);
    expect(readFileSync(join(p, 'rev/index.mjs'), 'utf8')).toBe('export const handler = 1');
    expect(readlinkSync(join(p, 'rev/node_modules/.bin/a'))).toBe('../a/bin.js');
  });

  it('refuses more than Lambda\'s unzipped size as declared by the archive, as AWS says it, leaving nothing', async () => {
    expect(UNZIPPED_MAX).toBe(262144000);
    const p = parent();
    const bomb = zip({ 'zeros.bin': Buffer.alloc(2_000_000) });
    expect(bomb.length).toBeLessThan(10_000);
    expect(await refusal(unpackPackage(bomb, join(p, 'rev'), 1_000_000))).toBe('Unzipped size must be smaller than 1000000 bytes');
    expect(readdirSync(p)).toEqual([]);
  });

  it('counts what the archive really inflates to when its headers lie about the sizes', async () => {
    const p = parent();
    const liar = lying(zip({ 'zeros.bin': Buffer.alloc(2_000_000) }));
    writeFileSync(join(work, 'liar.zip'), liar);
    expect(execFileSync('unzip', ['-Z', '-t', join(work, 'liar.zip')]).toString()).toMatch(/ 10 bytes uncompressed/);
    expect(await refusal(unpackPackage(liar, join(p, 'rev'), 1_000_000))).toBe('Unzipped size must be smaller than 1000000 bytes');
    expect(readdirSync(p)).toEqual([]);
    // Under the limit, the same lie unpacks what is really there.
    await unpackPackage(liar, join(p, 'rev'), 3_000_000);
    expect(readFileSync(join(p, 'rev/zeros.bin')).length).toBe(2_000_000);
  });

  for (const [what, target] of [['absolute', '/etc/shadow'], ['escaping', '../../../../pcloud.db'], ['up-two', '../..']] as const) {
    it(`refuses a symbolic link out of the package (${what}) and leaves nothing`, async () => {
      const p = parent();
      const msg = await refusal(unpackPackage(zip({ 'app.py': 'x', 'lib/evil': `->${target}` }), join(p, 'rev')));
      expect(msg).toBe('Could not unzip uploaded file. Please check your file, then try to upload again. (lib/evil is a symbolic link out of the package)');
      expect(readdirSync(p)).toEqual([]);
    });
  }

  it('unzip runs confined: only the new code dir is writable, nothing else of the host is there, no capabilities', () => {
    const out = mkdtempSync(join(work, 'out-'));
    writeFileSync(join(work, 'secret'), 'host secret');
    const script = `touch ${out}/ok; for d in /etc /usr /tmp ${work}; do touch $d/x 2>/dev/null && echo wrote $d; done; cat ${work}/secret 2>/dev/null; chown 1 ${out}/ok 2>/dev/null && echo chowned; echo done`;
    const res = spawnSync('bwrap', confined([], [out], ['sh', '-c', script]), { encoding: 'utf8' });
    // No write outside it, no host file read, and root without CAP_CHOWN.
    expect(res.stdout.trim()).toBe('done');
    expect(readdirSync(out)).toEqual(['ok']);
    expect(existsSync(join(work, 'x'))).toBe(false);
  });

  it('a broken archive is refused without host paths in the message, leaving nothing', async () => {
    const p = parent();
    const good = zip({ 'app.py': 'print(1)\n'.repeat(1000) });
    const broken = Buffer.concat([good.subarray(0, 200), Buffer.alloc(200, 0xff), good.subarray(400)]);
    const msg = await refusal(unpackPackage(broken, join(p, 'rev')));
    expect(msg).toMatch(/^Could not unzip uploaded file/);
    expect(msg).not.toContain(p);
    expect(readdirSync(p)).toEqual([]);
    expect(await refusal(unpackPackage(Buffer.from('PK\x03\x04 not really'), join(p, 'rev')))).toMatch(/not a zip archive/);
    expect(existsSync(join(p, 'rev'))).toBe(false);
    expect(readdirSync(p)).toEqual([]);
  });
});
