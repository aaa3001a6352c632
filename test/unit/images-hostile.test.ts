/**
 * Images are hostile (an imported tarball, or CreateImage of a tenant's own container root): making an image's VM
 * artifacts, unpacking its tarball and registering its root never read or write anything outside it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVmArtifacts, MAX_BOOT_FILE_BYTES, removeDeviceNodes, unpackTar } from '../../src/host/images.js';
import { UnsafeImageError } from '../../src/host/rootfs.js';

let base: string;
let root: string;
let out: string;
let outside: string;
const SECRET = 'host secret: root:$y$j9T$shadow\n';

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'pcloud-images-'));
  root = join(base, 'root');
  out = join(base, 'ami.vm');
  outside = join(base, 'host');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'shadow'), SECRET);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

/** What is outside the root: names and contents, to compare before and after. */
function hostState(): string {
  return readdirSync(outside).sort().map((n) => {
    const st = lstatSync(join(outside, n));
    return `${n} ${st.mode.toString(8)} ${st.nlink} ${st.isFile() ? readFileSync(join(outside, n), 'utf8') : ''}`;
  }).join('\n');
}

/** A bzImage as Debian's build writes it: a setup header, then the kernel ELF as an LZ4 legacy frame. */
function fakeKernel(elf: Buffer): Buffer {
  const frame = execFileSync('lz4', ['-l', '-c', '-q'], { input: elf });
  return Buffer.concat([Buffer.alloc(4096, 0xaa), frame]);
}

const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(8192, 7)]);

describe('buildVmArtifacts on a hostile root', () => {
  beforeEach(() => mkdirSync(join(root, 'boot')));

  it('makes the kernel, the initrd and a disk from a plain root; the disk keeps links as links (mkfs -d never reads through them)', async () => {
    writeFileSync(join(root, 'boot/vmlinuz-6.1.0-1-cloud-amd64'), fakeKernel(ELF));
    writeFileSync(join(root, 'boot/initrd.img-6.1.0-1-cloud-amd64'), 'initrd');
    mkdirSync(join(root, 'etc'));
    symlinkSync(join(outside, 'shadow'), join(root, 'etc/shadow'));
    symlinkSync(outside, join(root, 'hostdir'));
    expect(await buildVmArtifacts(root, out, 1)).toBe(true);
    expect(readFileSync(join(out, 'vmlinux'))).toEqual(ELF);
    expect(readFileSync(join(out, 'initrd.img'), 'utf8')).toBe('initrd');
    const link = execFileSync('debugfs', ['-R', 'stat /etc/shadow', join(out, 'disk.raw')], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(link).toContain('Type: symlink');
    expect(link).toContain(`Fast link dest: "${join(outside, 'shadow')}"`);
    const dir = execFileSync('debugfs', ['-R', 'ls -l /hostdir', join(out, 'disk.raw')], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(dir).not.toContain('shadow');
  });

  const hostile: [string, () => void, RegExp][] = [
    ['its initrd is a link to a host file', () => {
      writeFileSync(join(root, 'boot/vmlinuz-6.1'), fakeKernel(ELF));
      symlinkSync(join(outside, 'shadow'), join(root, 'boot/initrd.img-6.1'));
    }, /\/boot\/initrd\.img-6\.1 is a symbolic link/],
    ['its kernel is a link to a host file', () => {
      symlinkSync(join(outside, 'shadow'), join(root, 'boot/vmlinuz-6.1'));
      writeFileSync(join(root, 'boot/initrd.img-6.1'), 'initrd');
    }, /\/boot\/vmlinuz-6\.1 is a symbolic link/],
    ['its initrd is a link inside the root (still a link: refused, never followed)', () => {
      writeFileSync(join(root, 'boot/vmlinuz-6.1'), fakeKernel(ELF));
      symlinkSync('../etc/shadow', join(root, 'boot/initrd.img-6.1'));
    }, /\/boot\/initrd\.img-6\.1 is a symbolic link/],
    ['/boot is a link to a host directory with a kernel and initrd', () => {
      rmSync(join(root, 'boot'), { recursive: true });
      writeFileSync(join(outside, 'vmlinuz-6.1'), fakeKernel(ELF));
      symlinkSync(join(outside, 'shadow'), join(outside, 'initrd.img-6.1'));
      writeFileSync(join(outside, 'initrd.img-6.1.real'), SECRET);
      symlinkSync(outside, join(root, 'boot'));
    }, /\/boot is a symbolic link/],
    ['its initrd is larger than any initrd', () => {
      writeFileSync(join(root, 'boot/vmlinuz-6.1'), fakeKernel(ELF));
      writeFileSync(join(root, 'boot/initrd.img-6.1'), '');
      truncateSync(join(root, 'boot/initrd.img-6.1'), MAX_BOOT_FILE_BYTES + 1);
    }, /\/boot\/initrd\.img-6\.1 is larger than/],
    ['its kernel is no kernel', () => {
      writeFileSync(join(root, 'boot/vmlinuz-6.1'), SECRET);
      writeFileSync(join(root, 'boot/initrd.img-6.1'), 'initrd');
    }, /\/boot\/vmlinuz-6\.1 has no LZ4 payload/],
    ['its kernel unpacks to more than any kernel (an LZ4 bomb)', () => {
      const bomb = execFileSync('sh', ['-c', `head -c ${MAX_BOOT_FILE_BYTES + 4096} /dev/zero | lz4 -l -c -q`], { maxBuffer: 64 * 2 ** 20 });
      writeFileSync(join(root, 'boot/vmlinuz-6.1'), Buffer.concat([Buffer.alloc(512), bomb]));
      writeFileSync(join(root, 'boot/initrd.img-6.1'), 'initrd');
    }, /\/boot\/vmlinuz-6\.1 unpacks to more than/],
  ];

  for (const [what, make, message] of hostile) {
    it(`refuses a root whose ${what}, with what to change, reading nothing outside it`, async () => {
      make();
      const before = hostState();
      const err = await buildVmArtifacts(root, out, 1).catch((e: Error) => e);
      expect(err).toBeInstanceOf(UnsafeImageError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain(base);
      expect(hostState()).toBe(before);
      // Nothing of the host's was copied out: no initrd, no disk made.
      expect(existsSync(join(out, 'initrd.img'))).toBe(false);
      expect(existsSync(join(out, 'disk.raw'))).toBe(false);
    });
  }

  it('a root without a kernel is a container-only image: nothing is made', async () => {
    symlinkSync(join(outside, 'shadow'), join(root, 'boot/initrd.img-6.1')); // no vmlinuz-6.1 beside it
    expect(await buildVmArtifacts(root, out, 1)).toBe(false);
    expect(existsSync(out)).toBe(false);
  });
});

/** A ustar archive of hand-made members (what a hostile tarball can say, whatever a real tar would write). */
type Member = { name: string; type?: '0' | '1' | '2' | '3' | '4' | '5' | 'x'; data?: string; link?: string; mode?: number; uid?: number; dev?: [number, number] };
function tarball(members: Member[]): Buffer {
  const blocks: Buffer[] = [];
  const field = (h: Buffer, at: number, len: number, s: string) => h.write(s.slice(0, len), at, len, 'latin1');
  const octal = (h: Buffer, at: number, len: number, n: number) => field(h, at, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    const h = Buffer.alloc(512);
    field(h, 0, 100, m.name);
    octal(h, 100, 8, m.mode ?? 0o644);
    octal(h, 108, 8, m.uid ?? 0);
    octal(h, 116, 8, m.uid ?? 0);
    octal(h, 124, 12, data.length);
    octal(h, 136, 12, 1_700_000_000);
    field(h, 156, 1, m.type ?? '0');
    field(h, 157, 100, m.link ?? '');
    field(h, 257, 8, 'ustar\u000000');
    octal(h, 329, 8, m.dev?.[0] ?? 0);
    octal(h, 337, 8, m.dev?.[1] ?? 0);
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

/** A pax header giving the next member extended attributes. */
function xattrs(attrs: Record<string, string>): Member {
  const records = Object.entries(attrs).map(([k, v]) => {
    const body = ` SCHILY.xattr.${k}=${v}\n`;
    let len = body.length;
    while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
    return `${len}${body}`;
  }).join('');
  return { name: 'PaxHeaders/x', type: 'x', data: records };
}

describe('unpackTar of a hostile tarball', () => {
  const unpack = async (members: Member[]) => {
    const file = join(base, 'image.tar');
    writeFileSync(file, tarball(members));
    return unpackTar(file, root).then(() => undefined, (e: Error) => e);
  };
  const abs = () => join(outside, 'written');
  const climb = () => `${'../'.repeat(12)}${outside.slice(1)}`;

  const cases: [string, () => Member[], boolean | undefined][] = [
    // [what, members, whether tar refuses it (the import fails) rather than keeping it inside; undefined: either,
    // as tar's delayed links happen to meet the directory (what matters is that nothing lands outside)]
    ['a name with ..', () => [{ name: `${climb()}/written`, data: 'x' }], true],
    ['a name with .. in the middle', () => [{ name: 'etc/../../host/written', data: 'x' }], true],
    ['an absolute name (stripped: it lands inside)', () => [{ name: abs(), data: 'x' }], false],
    ['a link to a host directory, then a file through it', () => [{ name: 'evil', type: '2', link: outside }, { name: 'evil/written', data: 'x' }], true],
    ['a climbing link, then a file through it', () => [{ name: 'evil', type: '2', link: climb() }, { name: 'evil/written', data: 'x' }], true],
    ['a chain of links to a host directory, then a file through it', () => [
      { name: 'b', type: '2', link: outside }, { name: 'a', type: '2', link: 'b' }, { name: 'a/written', data: 'x' }], true],
    ['a link to a host file, then that file', () => [{ name: 'f', type: '2', link: join(outside, 'shadow') }, { name: 'f', data: 'overwritten' }], false],
    ['a link to a host directory, then a directory and a file in its place', () => [
      { name: 'd', type: '2', link: outside }, { name: 'd', type: '5', mode: 0o777 }, { name: 'd/written', data: 'x' }], undefined],
    ['a hard link to a host file', () => [{ name: 'h', type: '1', link: join(outside, 'shadow') }], true],
    ['a climbing hard link to a host file', () => [{ name: 'h', type: '1', link: `${climb()}/shadow` }], true],
    ['a hard link through a link to a host directory', () => [{ name: 's', type: '2', link: outside }, { name: 'h', type: '1', link: 's/shadow' }], true],
    ['a hard link to a host file, then that file written', () => [{ name: 'h', type: '1', link: join(outside, 'shadow') }, { name: 'h', data: 'overwritten' }], true],
  ];

  for (const [what, members, refused] of cases) {
    it(`${what}: nothing outside the root is written or linked`, async () => {
      const before = hostState();
      const err = await unpack(members());
      if (refused === true) {
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/image\.tar was not imported: tar: .+ \(an image's members must stay inside its root/);
      }
      if (refused === false) expect(err).toBeUndefined();
      expect(hostState()).toBe(before);
      expect(statSync(join(outside, 'shadow')).nlink).toBe(1);
      expect(existsSync(abs())).toBe(false);
    });
  }

  it("gives the image's root a root's owner and mode, whatever the tarball's ./ says", async () => {
    expect(await unpack([{ name: './', type: '5', mode: 0o777, uid: 1000 }, { name: 'etc/hostname', data: 'x' }])).toBeUndefined();
    const st = statSync(root);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, 0o755]);
  });

  it("says which member a refused tarball has", async () => {
    const err = await unpack([{ name: 'etc/../../host/written', data: 'x' }]);
    expect((err as Error).message).toContain("etc/../../host/written: Member name contains '..'");
  });

  it('keeps setuid bits, file capabilities and user xattrs (an image needs sudo and ping), drops trusted.* ones', async () => {
    const cap = String.fromCharCode(1, 0, 0, 2, 0, 0x20, 0, 0, ...new Array<number>(12).fill(0)); // cap_net_raw+ep
    expect(await unpack([
      { name: 'usr/bin/sudo', data: '#!', mode: 0o4755 },
      xattrs({ 'security.capability': cap, 'user.k': 'v', 'trusted.overlay.redirect': '/etc' }),
      { name: 'usr/bin/ping', data: '#!', mode: 0o755 },
    ])).toBeUndefined();
    expect(statSync(join(root, 'usr/bin/sudo')).mode & 0o7777).toBe(0o4755);
    // The attributes the unpacked file has, as tar lists them ("  x: LEN NAME").
    const listed = execFileSync('sh', ['-c', 'tar --xattrs --xattrs-include="*" -C "$1" -cf - usr/bin/ping | tar --xattrs --xattrs-include="*" -tvvvf -', 'sh', root]).toString();
    expect([...listed.matchAll(/x: \d+ (\S+)/g)].map((m) => m[1]).sort()).toEqual(['security.capability', 'user.k']);
  });
});

describe('removeDeviceNodes', () => {
  it('removes block and character nodes anywhere in the root, never through a link', async () => {
    mkdirSync(join(root, 'dev'));
    mkdirSync(join(root, 'var'));
    execFileSync('mknod', ['-m', '666', join(root, 'var/sda'), 'b', '8', '0']);
    execFileSync('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
    execFileSync('mknod', ['-m', '666', join(outside, 'mem'), 'c', '1', '1']);
    symlinkSync(outside, join(root, 'hostdev'));
    symlinkSync(join(outside, 'mem'), join(root, 'var/mem'));
    writeFileSync(join(root, 'var/file'), 'kept');
    expect(await removeDeviceNodes(root)).toBe(2);
    expect(existsSync(join(root, 'var/sda'))).toBe(false);
    expect(existsSync(join(root, 'dev/null'))).toBe(false);
    expect(lstatSync(join(outside, 'mem')).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(root, 'var/mem')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(root, 'var/file'), 'utf8')).toBe('kept');
  });
});
