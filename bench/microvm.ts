/**
 * microvm: RunInstances → running for a c5.large (QEMU microvm; TCG on this host), next to a bare QEMU boot of the
 * same kernel, initrd and disk in the same run. Both guests run cloud-init and send the same readiness line: the bare
 * one from a NoCloud seed written into its disk copy (debugfs, no mount) and without a network, pcloud's through DHCP
 * and the metadata service, which is the part of the difference that is the metadata approach rather than overhead.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vmArtifacts } from '../src/host/images.js';
import { microvmArgs } from '../src/host/qemu.js';
import { run } from '../src/host/exec.js';
import { ensureImage, runningAfter, startServer, BENCH_CREDS } from './launch.js';
import { round, summary } from './lib.js';

/** One bare boot: fork the raw disk, seed it, run QEMU with pcloud's arguments (no NIC), until the guest's READY=1. */
async function bareBoot(vmDir: string, pool: string, n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-bench-vm-'));
  const disk = join(pool, 'instances', `.bench-vm-${process.pid}-${n}.raw`);
  try {
    await run('cp', ['--reflink=always', join(vmDir, 'disk.raw'), disk]);
    writeFileSync(join(dir, 'meta-data'), `instance-id: i-benchvm${n}\nlocal-hostname: bench-vm-${n}\n`);
    writeFileSync(join(dir, 'user-data'), '#cloud-config\n{}\n');
    await run('debugfs', ['-w', '-f', '-', disk], {
      input: ['mkdir /var/lib/cloud/seed', 'mkdir /var/lib/cloud/seed/nocloud',
        `write ${join(dir, 'meta-data')} /var/lib/cloud/seed/nocloud/meta-data`,
        `write ${join(dir, 'user-data')} /var/lib/cloud/seed/nocloud/user-data`].join('\n') + '\n',
    });
    let ready: () => void;
    const isReady = new Promise<void>((r) => { ready = r; });
    const server = createServer((c) => c.on('data', (d: Buffer) => { if (d.toString().includes('READY=1')) ready(); }));
    await new Promise<void>((r) => server.listen(join(dir, 'ready.sock'), r));
    const args = microvmArgs({
      instanceId: `i-benchvm${n}`, vpcId: 'vpc-none', mac: '0e:00:00:00:00:01', vcpus: 2, memoryMiB: 4096,
      artifacts: vmArtifacts(vmDir), disk, runDir: dir, accel: 'tcg', readyTimeoutSec: 600,
    });
    // The same machine, minus the network (there is no tap outside pcloud): drop the NIC, name the seed's datasource.
    const bare: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '-netdev' || (args[i] === '-device' && args[i + 1]!.startsWith('virtio-net'))) { i++; continue; }
      bare.push(args[i]!.replace('ci.ds=Ec2', 'ci.ds=NoCloud'));
    }
    const t0 = performance.now();
    const qemu = spawn(bare[0]!, bare.slice(1), { stdio: 'ignore' });
    await Promise.race([isReady, new Promise((_, rej) => qemu.once('exit', (c) => rej(new Error(`qemu exited ${c}`))))]);
    const ms = performance.now() - t0;
    qemu.kill('SIGTERM');
    await new Promise((r) => qemu.once('exit', r));
    server.close();
    return ms;
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
  try {
    const bare: number[] = [];
    const pcloud: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      bare.push(await bareBoot(vmDir, pool, i));
      pcloud.push(...(await runningAfter(server.endpoint, BENCH_CREDS, 1, imageId, 'c5.large', 200)));
    }
    return { accel: 'tcg', bare: summary(bare), pcloud: summary(pcloud), ratioP50: round(summary(pcloud).p50 / summary(bare).p50) };
  } finally {
    await server.stop();
  }
}
