/**
 * UEFI and Windows-class VMs for real: images imported from a raw disk and an installer ISO run on QEMU q35 (TCG
 * here) with OVMF and the instance's own variables, a swtpm TPM 2.0 unit of their own, and their display on a VNC
 * socket that a headless Chromium (Debian's, driven by playwright-core) reaches through the console page and its
 * websocket. No Windows media exists on this machine: the blank disk boots OVMF to its boot menu, which is what the
 * display shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttachVolumeCommand, CreateVolumeCommand, DeleteVolumeCommand, DescribeVolumesCommand, DetachVolumeCommand,
  CreateImageCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeInstanceStatusCommand, GetConsoleScreenshotCommand, RunInstancesCommand, StartInstancesCommand,
  StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import jpeg from 'jpeg-js';
import { chromium } from 'playwright-core';
import { createServer } from 'node:net';
import { CreateFunctionCommand, CreateFunctionUrlConfigCommand, DeleteFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import WebSocket from 'ws';
import { CLI, CREDS, describeOne, hostInventory, startReal, type RealServer, waitForState } from '../support/real.js';
import { until } from '../support/api.js';
import { qmpCommand } from '../../src/host/qmp.js';
import { lambdaRole } from '../support/roles.js';

let srv: RealServer;
let winImage: string;
let isoImage: string;
const dir = mkdtempSync(join(tmpdir(), 'pcloud-q35-'));

function importImage(file: string, name: string, ...flags: string[]): string {
  return execFileSync(process.execPath, [CLI, 'image', 'import', file, '--name', name, '--data', srv.dataDir, ...flags]).toString().split('\t')[0]!;
}

let lambda: LambdaClient;

beforeAll(async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
  // OVMF without an OS ignores the ACPI power button: a graceful stop gives up after 5 s here.
  srv = await startReal({ env: { PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${port}`, PCLOUD_VM_SHUTDOWN_TIMEOUT_SEC: '5' } });
  lambda = new LambdaClient({ endpoint: srv.endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  const stamp = Date.now();
  // A blank disk marked Windows (UEFI, Secure Boot, TPM), and an "installer": an ISO 9660 volume descriptor is all
  // the import looks for, and all OVMF gets to see.
  execFileSync('truncate', ['-s', '1G', join(dir, 'blank.raw')]);
  winImage = importImage(join(dir, 'blank.raw'), `win-blank-${stamp}`, '--platform', 'windows');
  const iso = Buffer.alloc(0x8800);
  iso.write('\x01CD001\x01', 0x8000, 'latin1');
  writeFileSync(join(dir, 'installer.iso'), iso);
  isoImage = importImage(join(dir, 'installer.iso'), `installer-${stamp}`, '--disk-size', '1');
});
afterAll(async () => { await srv?.stop(); });

const waitState = (id: string, want: string, timeoutMs = 60_000) => waitForState(srv.ec2, id, want, timeoutMs, 200);

function unitState(name: string): string | undefined {
  const file = join(srv.dataDir, 'run/units', name, 'state.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { state: string }).state : undefined;
}

const qmp = (id: string, cmd: string) => qmpCommand(join(srv.dataDir, 'run/vm', id, 'qmp.sock'), cmd);

describe('q35 (UEFI, TPM, console)', () => {
  it('imports disk images as UEFI/Windows AMIs', async () => {
    const imgs = (await srv.ec2.send(new DescribeImagesCommand({ ImageIds: [winImage, isoImage] }))).Images!;
    const win = imgs.find((i) => i.ImageId === winImage)!;
    expect(win.Platform).toBe('windows');
    expect(win.PlatformDetails).toBe('Windows');
    expect(win.BootMode).toBe('uefi');
    expect(imgs.find((i) => i.ImageId === isoImage)!.BootMode).toBe('uefi');
    expect(existsSync(join(srv.dataDir, 'pool/images', `${isoImage}.vm/installer.iso`))).toBe(true);
  });

  it('runs a Windows image on q35 with its TPM unit and console; the browser sees the framebuffer; stop keeps its state', async () => {
    const before = hostInventory();
    // A container family: the image decides q35.
    const id = (await srv.ec2.send(new RunInstancesCommand({ ImageId: winImage, InstanceType: 't3.medium', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    try {
      await waitState(id, 'running');
      expect(unitState(`pcloud-tpm@${id}`)).toBe('active');
      expect(readFileSync(join(srv.dataDir, 'run/units', `pcloud-instance@${id}`, 'console.log'), 'utf8').split('\n')[0]).toContain('-M q35, TCG');
      // QEMU has the emulated TPM 2.0 on the CRB interface, and EC2's kind of SMBIOS uuid.
      const tpms = await qmp(id, 'query-tpm') as { model: string; options: { type: string } }[];
      expect(tpms.map((t) => [t.model, t.options.type])).toEqual([['tpm-crb', 'emulator']]);
      expect(((await qmp(id, 'query-uuid')) as { UUID: string }).UUID).toMatch(/^ec2[0-9a-f]{5}-/);
      // Its health is QEMU's run state: a paused VM is impaired, and ok again when it runs.
      const health = async () => (await srv.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses![0]!.InstanceStatus!.Status;
      expect(await health()).toBe('ok');
      await qmp(id, 'stop');
      expect(await health()).toBe('impaired');
      await qmp(id, 'cont');
      expect(await health()).toBe('ok');
      const state = join(srv.dataDir, 'pool/instances', `${id}.state`);
      await until(() => existsSync(join(state, 'tpm/tpm2-00.permall')), 10_000);
      expect(existsSync(join(state, 'OVMF_VARS.fd'))).toBe(true);

      // The console page, opened from a presigned URL in a real browser: connected, framebuffer updates, pixels lit.
      const url = execFileSync(process.execPath, [CLI, 'console', id, '--data', srv.dataDir]).toString().trim();
      expect(url).toMatch(/X-Amz-Signature=/);
      let screen = { width: 0, height: 0 };
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1024, height: 800 } });
        let updates = 0;
        page.on('websocket', (ws) => ws.on('framereceived', (f) => {
          const b = typeof f.payload === 'string' ? Buffer.from(f.payload, 'latin1') : f.payload;
          // RFB FramebufferUpdate: message type 0, padding, a rectangle count, then rectangles.
          if (b[0] === 0 && b.length > 16) updates++;
        }));
        await page.goto(url);
        await page.waitForFunction(() => (window as unknown as { pcloudConsole?: { state: string } }).pcloudConsole?.state === 'connected', null, { timeout: 20_000 });
        await until(() => updates > 0, 20_000, 100);
        const lit = await until(async () => {
          const { n, width, height } = await page.evaluate(() => {
            const c = document.querySelector('#screen canvas') as HTMLCanvasElement;
            const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
            let count = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] || d[i + 1] || d[i + 2]) count++;
            return { n: count, width: c.width, height: c.height };
          });
          screen = { width, height };
          return n > 1000 ? n : undefined;
        }, 30_000, 500);
        expect(lit).toBeGreaterThan(1000);
      } finally {
        await browser.close();
      }
      // The websocket refuses anyone without a console token or a signature; the page without a signature too.
      const refused = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${srv.endpoint.replace('http', 'ws')}/pcloud/console/${id}/websocket?token=forged.token`);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => undefined);
      });
      expect(refused).toBe(401);
      const unsigned = await fetch(`${srv.endpoint}/pcloud/console/${id}`);
      expect(unsigned.status).toBe(401);
      expect(await unsigned.text()).toContain('<Code>AuthFailure</Code>');
      // GetConsoleScreenshot: the same display as a JPEG, as EC2 sends it, of the display's size and not blank.
      const shot = Buffer.from((await srv.ec2.send(new GetConsoleScreenshotCommand({ InstanceId: id }))).ImageData!, 'base64');
      expect([...shot.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
      const picture = jpeg.decode(shot);
      expect([picture.width, picture.height]).toEqual([screen.width, screen.height]);
      expect(picture.data.some((v, i) => i % 4 !== 3 && v > 16)).toBe(true);

      // A volume attached while it runs is hot plugged (a virtio disk on a free PCIe root port, over iSCSI); OVMF does
      // not acknowledge unplugs, so it goes back only by force.
      const vol = (await srv.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
      await srv.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: id, Device: '/dev/sdf' }));
      const blocks = await qmp(id, 'query-block') as { device: string; qdev?: string; inserted?: { file: string } }[];
      expect(blocks.find((b) => b.inserted?.file.includes(`iqn.2026-11.org.pcloud:${vol}`))?.qdev).toContain(`dev-${vol}`);
      await srv.ec2.send(new DetachVolumeCommand({ VolumeId: vol, Force: true }));
      expect((await srv.ec2.send(new DescribeVolumesCommand({ VolumeIds: [vol] }))).Volumes![0]!.State).toBe('available');
      await srv.ec2.send(new DeleteVolumeCommand({ VolumeId: vol }));

      // Stop: QEMU and the TPM end; the firmware variables and TPM state stay with the instance for its next start.
      await srv.ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true }));
      await waitState(id, 'stopped');
      expect(unitState(`pcloud-tpm@${id}`)).not.toBe('active');
      expect(execFileSync('sh', ['-c', `pgrep -f '[s]wtpm.*${id}' || true`]).toString().trim()).toBe('');
      const tpmState = readFileSync(join(state, 'tpm/tpm2-00.permall'));
      await srv.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
      await waitState(id, 'running');
      expect(unitState(`pcloud-tpm@${id}`)).toBe('active');
      // The same TPM (its persistent seeds are kept), not a new one.
      expect(readFileSync(join(state, 'tpm/tpm2-00.permall')).subarray(0, 64)).toEqual(tpmState.subarray(0, 64));
    } finally {
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await waitState(id, 'terminated');
    }
    expect(existsSync(join(srv.dataDir, 'pool/instances', `${id}.state`))).toBe(false);
    expect(execFileSync('sh', ['-c', `pgrep -f '[q]emu-system-x86_64.*${id}|[s]wtpm.*${id}' || true`]).toString().trim()).toBe('');
    const after = hostInventory();
    expect(after.units).toEqual(before.units);
    // Router ports (its tap) are gone; the VPC's router and uplink stay, as they do for every VPC.
    const ports = (links: string[]) => links.filter((l) => l.includes('/'));
    expect(ports(after.links)).toEqual(ports(before.links));
  }, 300_000);

  it('a fat lambda: its function URL is the VM\'s console; opening it starts the VM, idle stops it', async () => {
    const id = (await srv.ec2.send(new RunInstancesCommand({ ImageId: winImage, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    const name = `console-${Date.now().toString(36)}`;
    try {
      await waitState(id, 'running');
      await srv.ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true }));
      await waitState(id, 'stopped');
      // The function: any runtime and package; its environment names the VM and the idle time.
      const d = mkdtempSync(join(dir, 'fat-'));
      writeFileSync(join(d, 'bootstrap'), '#!/bin/sh\n');
      execFileSync('zip', ['-q', 'p.zip', 'bootstrap'], { cwd: d });
      await lambda.send(new CreateFunctionCommand({
        FunctionName: name, Runtime: 'provided.al2023', Handler: 'console', Role: await lambdaRole(srv.endpoint, CREDS),
        Code: { ZipFile: readFileSync(join(d, 'p.zip')) },
        Environment: { Variables: { PCLOUD_CONSOLE_INSTANCE: id, PCLOUD_CONSOLE_IDLE_SEC: '5' } },
      }));
      const url = (await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }))).FunctionUrl!;
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
      try {
        const page = await browser.newPage();
        let updates = 0;
        page.on('websocket', (ws) => ws.on('framereceived', (f) => {
          const b = typeof f.payload === 'string' ? Buffer.from(f.payload, 'latin1') : f.payload;
          if (b[0] === 0 && b.length > 16) updates++;
        }));
        // Opening the URL starts the stopped VM, then the page's websocket reaches its display.
        await page.goto(url);
        expect((await describeOne(srv.ec2, id)).State!.Name).toBe('running');
        try {
          await page.waitForFunction(() => (window as unknown as { pcloudConsole?: { state: string } }).pcloudConsole?.state === 'connected', null, { timeout: 20_000 });
        } catch (err) {
          // What the page, the VM and the console proxy's unit said, before the function (and its unit's files) goes.
          const units = join(srv.dataDir, 'run/units');
          const logs = execFileSync('sh', ['-c', `tail -n 30 ${units}/pcloud-fn-*${name}*/*.log 2>&1 || true`]).toString();
          console.log(`the console did not connect: page ${JSON.stringify(await page.evaluate(() => (window as unknown as { pcloudConsole?: unknown }).pcloudConsole).catch(String))}; VM ${(await describeOne(srv.ec2, id)).State!.Name}; the proxy's unit:\n${logs}`);
          throw err;
        }
        await until(() => updates > 0, 20_000, 100);
      } finally {
        await browser.close();
      }
      // Nobody connected for 5 s: the console proxy leaves and the VM stops.
      await waitState(id, 'stopped', 30_000);
      // (The activator stays, listening; its command line names the proxy too, hence the anchor on the interpreter.)
      await until(() => execFileSync('sh', ['-c', `pgrep -f '^[^ ]*node [^ ]*console-proxy.js.*--instance=${id}' || true`]).toString().trim() === '', 15_000, 200);
    } finally {
      await lambda.send(new DeleteFunctionCommand({ FunctionName: name })).catch(() => undefined);
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await waitState(id, 'terminated');
    }
  }, 300_000);

  it('CreateImage of a VM: its disk becomes a private AMI of the same platform and boot mode, which launches', async () => {
    const src = (await srv.ec2.send(new RunInstancesCommand({ ImageId: winImage, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    let copy: string | undefined;
    let ami: string | undefined;
    try {
      await waitState(src, 'running');
      // What an installation leaves on the disk: here, a marker 1 MiB in.
      const fd = openSync(join(srv.dataDir, 'pool/instances', `${src}.raw`), 'r+');
      writeSync(fd, Buffer.from('installed by pcloud test'), 0, 24, 1 << 20);
      closeSync(fd);
      ami = (await srv.ec2.send(new CreateImageCommand({ InstanceId: src, Name: `golden-${Date.now()}` }))).ImageId!;
      const img = (await srv.ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }))).Images![0]!;
      expect([img.Platform, img.BootMode, img.Public, img.State]).toEqual(['windows', 'uefi', false, 'available']);
      copy = (await srv.ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
      await waitState(copy, 'running');
      const marker = Buffer.alloc(24);
      const cfd = openSync(join(srv.dataDir, 'pool/instances', `${copy}.raw`), 'r');
      readSync(cfd, marker, 0, 24, 1 << 20);
      closeSync(cfd);
      expect(marker.toString()).toBe('installed by pcloud test');
      // Its disk was written: no installer comes along, and its own TPM and variables are new.
      expect(existsSync(join(srv.dataDir, 'pool/images', `${ami}.vm/installer.iso`))).toBe(false);
    } finally {
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [src, ...(copy ? [copy] : [])] }));
      await waitState(src, 'terminated');
      if (ami) await srv.ec2.send(new DeregisterImageCommand({ ImageId: ami }));
    }
  }, 120_000);

  it('attaches the installer ISO only while the disk is blank', async () => {
    const id = (await srv.ec2.send(new RunInstancesCommand({ ImageId: isoImage, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    try {
      await waitState(id, 'running');
      const files = async () => ((await qmp(id, 'query-block')) as { inserted?: { file: string } }[]).map((b) => b.inserted?.file ?? '');
      expect((await files()).some((f) => f.endsWith(`${isoImage}.vm/installer.iso`))).toBe(true);
      await srv.ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true }));
      await waitState(id, 'stopped');
      // What an installation does first: a partition table on the disk.
      const fd = openSync(join(srv.dataDir, 'pool/instances', `${id}.raw`), 'r+');
      writeSync(fd, Buffer.from([0x55, 0xaa]), 0, 2, 510);
      closeSync(fd);
      await srv.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
      await waitState(id, 'running');
      expect((await files()).some((f) => f.includes('installer.iso'))).toBe(false);
    } finally {
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await waitState(id, 'terminated');
    }
  }, 300_000);

  it('refuses to import a legacy-BIOS disk image (no firmware to boot it): it says how', () => {
    const bad = spawnImport(join(dir, 'blank.raw'), `legacy-${Date.now()}`);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('--boot-mode uefi');
  });
});

function spawnImport(file: string, name: string) {
  try {
    execFileSync(process.execPath, [CLI, 'image', 'import', file, '--name', name, '--data', srv.dataDir], { stdio: 'pipe' });
    return { status: 0, stderr: '' };
  } catch (e) {
    const err = e as { status: number; stderr: Buffer };
    return { status: err.status, stderr: err.stderr.toString() };
  }
}
