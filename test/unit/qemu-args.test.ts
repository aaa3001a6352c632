/**
 * The generated QEMU command lines, run for real: QEMU started paused (-S) in a network namespace of its own (where its
 * tap is made), its files and sockets in a directory whose name holds `=` before a `,`, a newline and an option of its own;
 * QMP shows it opened exactly those files, then `quit`. The q35 VM's TPM is the swtpm its unit runs (swtpm takes no
 * comma: its state and socket live in a plain directory, the socket linked into the hostile one).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureVmState, firmwareFor, q35Args, tpmUnit } from '../../src/host/q35.js';
import { microvmArgs } from '../../src/host/qemu.js';
import { Qmp } from '../../src/host/qmp.js';
import { until } from '../support/api.js';

const base = await mkdtemp(join(tmpdir(), 'pcloud-qemu-args-'));
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(base, { recursive: true, force: true });
});

/** A directory named to break any option string it is pasted into raw. */
async function hostileDir(name: string): Promise<string> {
  const dir = join(base, name, 'a=b,c\nd,file=/etc/shadow,format=qcow2');
  await mkdir(dir, { recursive: true });
  return dir;
}

function start(argv: string[]): { child: ChildProcess; exited: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, exited };
}

/** Start QEMU paused in a namespace of its own; answer QMP; quit. */
async function runPaused(args: string[], qmpPath: string, ask: (qmp: Qmp) => Promise<void>): Promise<void> {
  expect(args[0]).toBe('qemu-system-x86_64');
  const qemu = start(['unshare', '--net', '--', args[0]!, '-S', ...args.slice(1)]);
  // QMP answers once QEMU has made the machine (bind comes before listen: connect until it takes).
  let quit = false;
  const qmp = await Promise.race([
    until(async () => quit || await Qmp.connect(qmpPath).catch(() => undefined), 30_000),
    qemu.exited.then(({ stderr }) => { quit = true; throw new Error(`QEMU refused its command line: ${stderr}`); }),
  ]) as Qmp;
  try {
    await ask(qmp);
    await qmp.execute('quit').catch(() => undefined); // QEMU may close before it answers
  } finally {
    qmp.close();
  }
  expect(await qemu.exited).toEqual({ code: 0, stderr: '' });
}

const opened = async (qmp: Qmp) => (await qmp.execute<{ device: string; inserted?: { file: string } }[]>('query-block'))
  .flatMap((b) => (b.inserted ? [b.inserted.file] : [])).sort();

/** The serial number of the virtio disk that has `file` (a volume's: its id). */
async function serialOf(qmp: Qmp, file: string): Promise<unknown> {
  const block = (await qmp.execute<{ qdev?: string; inserted?: { file: string } }[]>('query-block')).find((b) => b.inserted?.file === file);
  return qmp.execute('qom-get', { path: block!.qdev!, property: 'serial' });
}

/** The smallest kernel microvm loads: an x86-64 ELF whose PVH note (Xen PHYS32_ENTRY) points at its only segment. */
function pvhKernel(): Buffer {
  const note = Buffer.alloc(20);
  note.writeUInt32LE(4, 0); note.writeUInt32LE(4, 4); note.writeUInt32LE(18, 8); note.write('Xen\0', 12, 'latin1'); note.writeUInt32LE(0x100000, 16);
  const ph = (type: number, flags: number, off: number, size: number, align: number) => {
    const b = Buffer.alloc(56);
    b.writeUInt32LE(type, 0); b.writeUInt32LE(flags, 4); b.writeBigUInt64LE(BigInt(off), 8);
    b.writeBigUInt64LE(BigInt(0x100000 + off), 16); b.writeBigUInt64LE(BigInt(0x100000 + off), 24);
    b.writeBigUInt64LE(BigInt(size), 32); b.writeBigUInt64LE(BigInt(size), 40); b.writeBigUInt64LE(BigInt(align), 48);
    return b;
  };
  const eh = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(eh);
  eh.writeUInt16LE(2, 16); eh.writeUInt16LE(62, 18); eh.writeUInt32LE(1, 20); eh.writeBigUInt64LE(0x100000n, 24);
  eh.writeBigUInt64LE(64n, 32); eh.writeUInt16LE(64, 52); eh.writeUInt16LE(56, 54); eh.writeUInt16LE(2, 56); eh.writeUInt16LE(64, 58);
  const size = 64 + 2 * 56 + note.length;
  return Buffer.concat([eh, ph(1, 5, 0, size, 0x1000), ph(4, 4, 64 + 2 * 56, note.length, 4), note]);
}

describe('QEMU runs the generated command lines with hostile paths', () => {
  it('q35: firmware, variables, disk, volume and installer opened as named; VNC, QMP and the TPM on their sockets', async () => {
    const dir = await hostileDir('q35');
    const plain = join(base, 'q35-plain');
    const fw = firmwareFor('windows', dir);
    const real = firmwareFor('windows');
    await copyFile(real.code, fw.code);
    await copyFile(real.vars, fw.vars);
    const state = { dir, vars: join(dir, 'OVMF_VARS.fd'), tpmDir: join(plain, 'tpm') };
    await ensureVmState(state, fw);
    const files = { disk: join(dir, 'disk,x=y.raw'), iso: join(dir, 'in=st,all.iso'), volume: join(dir, 'v,ol=1.raw') };
    for (const f of Object.values(files)) await writeFile(f, '');
    await truncate(files.disk, 1 << 20);
    await truncate(files.volume, 1 << 20);
    await truncate(files.iso, 0x8800);

    // The TPM as its unit runs it, its socket reached through a link in the hostile run directory.
    const tpm = start(tpmUnit({ instanceId: 'i-0123456789abcdef2', state, runDir: plain }).exec);
    await until(() => existsSync(join(plain, 'tpm.sock')), 10_000);
    await symlink(join(plain, 'tpm.sock'), join(dir, 'tpm.sock'));

    const args = q35Args({
      instanceId: 'i-0123456789abcdef2', vpcId: 'vpc-0123456789abcdef0', mac: '02:00:00:00:00:02', vcpus: 1, memoryMiB: 256,
      uuid: 'ec2e0000-0000-0000-0000-000000000000', disk: files.disk, firmware: fw, state, cdroms: [files.iso],
      volumes: [{ id: 'vol-0123456789abcdef0', uri: files.volume }], runDir: dir, accel: 'tcg',
    });
    await runPaused(args, join(dir, 'qmp.sock'), async (qmp) => {
      expect(await opened(qmp)).toEqual([fw.code, state.vars, files.disk, files.volume, files.iso].sort());
      expect(await qmp.execute('query-vnc')).toMatchObject({ enabled: true, family: 'unix', service: join(dir, 'vnc.sock') });
      expect(await qmp.execute('query-tpm')).toEqual([expect.objectContaining({ model: 'tpm-crb' })]);
      expect(await serialOf(qmp, files.volume)).toBe('vol0123456789abcdef0');
    });
    tpm.child.kill('SIGTERM');
    await tpm.exited;
  });

  it('microvm: kernel, initrd, disk and volume opened as named; the readiness socket and QMP where they are named', async () => {
    const dir = await hostileDir('microvm');
    const files = { kernel: join(dir, 'vmlinux,x=y'), initrd: join(dir, 'initrd,x=y.img'), disk: join(dir, 'disk,x=y.raw'), volume: join(dir, 'v,ol=1.raw') };
    await writeFile(files.kernel, pvhKernel());
    await writeFile(files.initrd, Buffer.alloc(512));
    await writeFile(files.disk, '');
    await truncate(files.disk, 1 << 20);
    await writeFile(files.volume, '');
    await truncate(files.volume, 1 << 20);
    // QEMU connects to the readiness socket as it starts (vm-ready listens there).
    let connected = false;
    const ready = createServer((s) => { connected = true; s.on('error', () => undefined); });
    await new Promise<void>((resolve) => ready.listen(join(dir, 'ready.sock'), resolve));
    try {
      const args = microvmArgs({
        instanceId: 'i-0123456789abcdef1', vpcId: 'vpc-0123456789abcdef0', mac: '02:00:00:00:00:01', vcpus: 1, memoryMiB: 256,
        artifacts: { kernel: files.kernel, initrd: files.initrd, disk: join(dir, 'unused') }, disk: files.disk,
        volumes: [{ id: 'vol-0123456789abcdef0', uri: files.volume }], runDir: dir, accel: 'tcg', readyTimeoutSec: 600,
      });
      await runPaused(args, join(dir, 'qmp.sock'), async (qmp) => {
        expect(await opened(qmp)).toEqual([files.disk, files.volume].sort());
        expect(await serialOf(qmp, files.volume)).toBe('vol0123456789abcdef0');
        expect(connected).toBe(true);
      });
    } finally {
      ready.close();
    }
  });
});
