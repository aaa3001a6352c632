/**
 * microvm: RunInstances → running and → instance status done (ok or impaired; a user-data script) for a c5.large
 * (QEMU microvm; TCG on this host), next to a bare QEMU boot of the same kernel, initrd and disk to the same milestones
 * in the same run: the guest's `READY=1` on its readiness port, and, for an image that speaks the guest protocol
 * (/etc/pcloud/guest-protocol in its disk), its `X_PCLOUD_BOOT=ok|impaired` (an image that does not is done at READY).
 * Both guests run cloud-init with the same user-data: the bare one from a NoCloud seed written into its disk copy
 * (debugfs, no mount) and without a network, pcloud's through DHCP and the metadata service, which is the part of the
 * difference that is the metadata approach rather than overhead.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vmArtifacts } from '../src/host/images.js';
import { microvmArgs } from '../src/host/qemu.js';
import { run } from '../src/host/exec.js';
import { ensureImage, startServer } from './launch.js';
import { ec2Client, launchAndWatch, terminateAll, USER_DATA } from './ec2.js';
import { machineWatch } from './cost.js';
import { round, summary } from './lib.js';

/** Whether the VM disk's image speaks the guest protocol (read with debugfs, no mount). */
async function diskSpeaksGuestProtocol(disk: string): Promise<boolean> {
  const r = await run('debugfs', ['-R', 'cat /etc/pcloud/guest-protocol', disk], { reject: false });
  return String(r.stdout).trim() === '1';
}

/** One bare boot: fork the raw disk, seed it, run QEMU with pcloud's arguments (no NIC), until the guest's READY=1 and done. */
async function bareBoot(vmDir: string, pool: string, n: number): Promise<{ readyMs: number; okMs: number; protocol: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-bench-vm-'));
  const disk = join(pool, 'instances', `.bench-vm-${process.pid}-${n}.raw`);
  try {
    await run('cp', ['--reflink=always', join(vmDir, 'disk.raw'), disk]);
    writeFileSync(join(dir, 'meta-data'), `instance-id: i-benchvm${n}\nlocal-hostname: bench-vm-${n}\n`);
    writeFileSync(join(dir, 'user-data'), USER_DATA);
    const protocol = await diskSpeaksGuestProtocol(disk);
    await run('debugfs', ['-w', '-f', '-', disk], {
      input: ['mkdir /var/lib/cloud/seed', 'mkdir /var/lib/cloud/seed/nocloud',
        `write ${join(dir, 'meta-data')} /var/lib/cloud/seed/nocloud/meta-data`,
        `write ${join(dir, 'user-data')} /var/lib/cloud/seed/nocloud/user-data`].join('\n') + '\n',
    });
    let readyAt = 0;
    let done: () => void;
    const isDone = new Promise<void>((r) => { done = r; });
    const server = createServer((c) => {
      let buf = '';
      c.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n').slice(0, -1);
        if (!readyAt && lines.includes('READY=1')) {
          readyAt = performance.now();
          if (!protocol) done();
        }
        if (readyAt && lines.some((l) => l === 'X_PCLOUD_BOOT=ok' || l === 'X_PCLOUD_BOOT=impaired')) done();
      });
    });
    await new Promise<void>((r) => server.listen(join(dir, 'ready.sock'), r));
    const args = microvmArgs({
      instanceId: `i-benchvm${n}`, vpcId: 'vpc-none', mac: '0e:00:00:00:00:01', vcpus: 2, memoryMiB: 4096,
      artifacts: vmArtifacts(vmDir), disk, runDir: dir, accel: 'tcg', readyTimeoutSec: 1200,
    });
    // The same machine, minus the network (there is no tap outside pcloud): drop the NIC, name the seed's datasource.
    const bare: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '-netdev' || (args[i] === '-device' && args[i + 1]!.startsWith('virtio-net'))) { i++; continue; }
      bare.push(args[i]!.replace('ci.ds=Ec2', 'ci.ds=NoCloud'));
    }
    const t0 = performance.now();
    const qemu = spawn(bare[0]!, bare.slice(1), { stdio: 'ignore' });
    await Promise.race([isDone, new Promise((_, rej) => qemu.once('exit', (c) => rej(new Error(`qemu exited ${c}`))))]);
    const okMs = performance.now() - t0;
    qemu.kill('SIGTERM');
    await new Promise((r) => qemu.once('exit', r));
    server.close();
    return { readyMs: readyAt - t0, okMs, protocol };
  } finally {
    rmSync(disk, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchMicrovm(opts: { dataDir: string; runs: number }) {
  const imageId = await ensureImage(opts.dataDir);
  const pool = join(opts.dataDir, 'pool');
  const vmDir = join(pool, 'images', `${imageId}.vm`);
  const server = await startServer(opts.dataDir);
  const ec2 = ec2Client(server.endpoint);
  const machine = machineWatch();
  try {
    const bare: Awaited<ReturnType<typeof bareBoot>>[] = [];
    const running: number[] = [];
    const ok: number[] = [];
    const statuses: string[] = [];
    // An untimed launch first: the image's first VM launch makes its VM artifacts (kernel, initrd, disk) the bare
    // boot uses too, and warms the page cache for both.
    const warm = await launchAndWatch(ec2, { imageId, instanceType: 'c5.large', count: 1, userData: USER_DATA, until: 'ok', pollMs: 500, timeoutMs: 1_200_000 });
    await terminateAll(ec2, warm.ids);
    for (let i = 0; i < opts.runs; i++) {
      const r = await launchAndWatch(ec2, { imageId, instanceType: 'c5.large', count: 1, userData: USER_DATA, until: 'ok', pollMs: 200, timeoutMs: 1_200_000 });
      if (r.watched[0]!.failed !== undefined) throw new Error(`run ${i + 1}: ${r.watched[0]!.id} ${r.watched[0]!.failed}`);
      running.push(r.watched[0]!.runningMs!);
      ok.push(r.watched[0]!.doneMs!);
      statuses.push(r.watched[0]!.status ?? '');
      await terminateAll(ec2, r.ids);
      bare.push(await bareBoot(vmDir, pool, i));
    }
    const b = { readyMs: summary(bare.map((x) => x.readyMs)), okMs: summary(bare.map((x) => x.okMs)) };
    const p = { runningMs: summary(running), okMs: summary(ok), finalStatuses: statuses };
    return {
      accel: 'tcg', instanceType: 'c5.large', userData: USER_DATA, imageSpeaksGuestProtocol: bare[0]?.protocol ?? false,
      bare: b, pcloud: p,
      ratioP50: { running: round(p.runningMs.p50 / b.readyMs.p50), ok: round(p.okMs.p50 / b.okMs.p50) },
      machine: machine.end(),
    };
  } finally {
    await server.stop();
  }
}
