/**
 * Linux VMs for real: a c5 instance boots the debian-12 image as a QEMU microvm (TCG on this host: /dev/kvm is a
 * nested PVM device that cannot run guests), gets its address from the VPC's DHCP, its identity and user-data from
 * the metadata service through cloud-init's Ec2 datasource, turns running on the guest's readiness signal (status ok
 * once cloud-init has finished), and is reached by a container in its subnet. While it runs, `pcloud ps`, `pcloud top`
 * and the server's /metrics show it (ps.test.ts shows a container's; the VM is this suite's, one boot for both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttachVolumeCommand, CreateVolumeCommand, DeleteVolumeCommand, DescribeVolumesCommand, DetachVolumeCommand,
  DescribeInstanceStatusCommand, GetConsoleOutputCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CLI, freePort, hostInventory, leaderOf, startReal, type RealServer, waitForState } from '../support/real.js';
import { until } from '../support/api.js';

let srv: RealServer;
let metricsAt = '';
beforeAll(async () => {
  metricsAt = `127.0.0.1:${await freePort()}`;
  srv = await startReal({ metrics: metricsAt });
});
afterAll(async () => { await srv?.stop(); });

/** The CLI on the server's data dir, as an operator runs it. */
const pcloud = (args: string[]) => execFileSync(process.execPath, [CLI, ...args, '--data', srv.dataDir], { timeout: 60_000 }).toString();
/** The table line of `id` in a command's output. */
const lineOf = (out: string, id: string) => out.split('\n').find((l) => l.startsWith(`${id} `));

const waitState = (id: string, want: string, timeoutMs: number) => waitForState(srv.ec2, id, want, timeoutMs, 500);

const consoleLog = (id: string) => readFileSync(join(srv.dataDir, 'run/units', `pcloud-instance@${id}`, 'console.log'), 'utf8');
/** Until the instance's status checks are ok (its guest's boot done), as `aws ec2 wait instance-status-ok`. */
const statusOk = (id: string) => until(async () =>
  (await srv.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses?.[0]?.InstanceStatus?.Status === 'ok', 600_000, 500);
const qemuPid = (id: string) => Number(execFileSync('pgrep', ['-f', `^qemu-system-x86_64 .*${id}`]).toString().trim().split('\n')[0]);

describe('microvm (QEMU, TCG here)', () => {
  it('boots the debian-12 image: DHCP, cloud-init from the metadata service, user-data, running, reachable in its VPC; stops by ACPI; an iSCSI volume appears in the guest', async () => {
    const before = hostInventory();
    // cloud-config: runcmd once (the user-data ran), bootcmd on every boot (the virtio disks the guest sees).
    const userData = Buffer.from([
      '#cloud-config',
      'bootcmd:',
      `  - [sh, -c, 'for d in /sys/block/vd*; do echo "pcloud-disk: \${d##*/} $(cat $d/size) $(cat $d/serial 2>/dev/null)"; done > /dev/ttyS0']`,
      'runcmd:',
      `  - [sh, -c, 'echo "user-data ran in $(hostname)" > /dev/ttyS0']`,
      '',
    ].join('\n')).toString('base64');
    const vm = (await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 'c5.large', MinCount: 1, MaxCount: 1, UserData: userData,
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'vm' }] }],
    }))).Instances![0]!;
    const peer = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    const id = vm.InstanceId!;
    let vol: string | undefined;
    try {
      const running = await waitState(id, 'running', 600_000);
      expect(running.PrivateIpAddress).toBe(vm.PrivateIpAddress);
      await waitState(peer.InstanceId!, 'running', 90_000);
      // Running once the guest's system is up; its status ok once cloud-init has finished (the guest protocol).
      await statusOk(id);
      // The console (GetConsoleOutput) shows cloud-init done with the Ec2 datasource, the name it set and the user-data.
      const console = Buffer.from((await srv.ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }))).Output ?? '', 'base64').toString();
      const host = vm.PrivateDnsName!.split('.')[0]!;
      // How it runs heads the console (the unit's own log; GetConsoleOutput gives the latest 64 KB).
      expect(readFileSync(join(srv.dataDir, 'run/units', `pcloud-instance@${id}`, 'console.log'), 'utf8').split('\n')[0]).toContain('pcloud: qemu-system-x86_64 -M microvm, TCG');
      expect(console).toMatch(/Cloud-init v\. \S+ finished at .* Datasource DataSourceEc2\./);
      expect(console).toContain(`user-data ran in ${host}`);
      // Its address came by DHCP from the VPC's dnsmasq (cloud-init's table of devices shows it on eth0).
      expect(console).toMatch(new RegExp(`ci-info: \\|\\s+eth0\\s+\\|\\s+True\\s+\\|\\s+${vm.PrivateIpAddress!.replaceAll('.', '\\.')}\\s`));
      expect(console).toContain(`${host} login:`);
      // A container in the same subnet reaches it.
      const ping = execFileSync('nsenter', ['-t', String(leaderOf(peer.InstanceId!)), '-m', '-u', '-i', '-n', '-p', '--', 'ping', '-c', '1', '-W', '5', vm.PrivateIpAddress!]).toString();
      expect(ping).toContain('1 received');

      // An operator sees it running: ps with its status asked of its QEMU too (QMP), as DescribeInstanceStatus does.
      expect(lineOf(pcloud(['ps']), id)).toMatch(new RegExp(` vm +c5\\.large +microvm +running +(initializing|ok) +${vm.PrivateIpAddress!.replace(/\./g, '\\.')} `));
      // top: QEMU's memory is the guest's RAM it has touched (a booted Debian: well over 64 MiB), under its limit (4 GiB
      // and QEMU's overhead); its CPU over the interval.
      const top = pcloud(['top', '--once', '--interval', '1']);
      const v = /microvm +running +(\d+\.\d) +(\d+(?:\.\d)?)([MG]) +(\d+(?:\.\d)?)G +(\d+\.\d)$/.exec(lineOf(top, id) ?? '');
      expect(v, top).not.toBeNull();
      expect(Number(v![2]) * (v![3] === 'G' ? 1024 : 1)).toBeGreaterThan(64);
      expect(Number(v![4])).toBeGreaterThan(4);
      // The server's /metrics: its memory bytes and CPU seconds from the same cgroup.
      const metrics = await (await fetch(`http://${metricsAt}/metrics`)).text();
      const vmMemory = new RegExp(`^pcloud_instance_memory_bytes\\{instance_id="${id}",runtime="microvm"\\} (\\S+)$`, 'm').exec(metrics);
      expect(Number(vmMemory?.[1])).toBeGreaterThan(64 * 2 ** 20);
      expect(metrics).toMatch(new RegExp(`^pcloud_instance_cpu_seconds_total\\{instance_id="${id}",runtime="microvm"\\} [1-9]`, 'm'));

      // Stop: the guest gets the ACPI power button and shuts down by itself.
      await srv.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
      await waitState(id, 'stopped', 180_000);
      expect(consoleLog(id)).toMatch(/systemd-shutdown\[1\]: Powering off\.[\s\S]*reboot: Power down/);
      // A volume attached while it is stopped reaches the guest over iSCSI (tgtd → QEMU's iscsi:// driver) at its next
      // start: a second virtio disk of the volume's size whose serial is the volume id.
      vol = (await srv.ec2.send(new CreateVolumeCommand({ AvailabilityZone: running.Placement!.AvailabilityZone!, Size: 2 }))).VolumeId!;
      await srv.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: id, Device: '/dev/sdf' }));
      await srv.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
      await waitState(id, 'running', 600_000);
      await statusOk(id);
      expect(readFileSync(`/proc/${qemuPid(id)}/cmdline`, 'utf8')).toContain(`file=iscsi://`);
      expect(consoleLog(id)).toContain(`pcloud-disk: vdb ${(2 * 2 ** 30) / 512} ${vol.replace('-', '')}`);
      expect(execFileSync('tgtadm', ['-C', process.env.PCLOUD_ISCSI_CONTROL_PORT ?? '7', '--lld', 'iscsi', '--op', 'show', '--mode', 'target']).toString()).toContain(`iqn.2026-11.org.pcloud:${vol}`);
      // A running microvm cannot give it back (no hot unplug on virtio-mmio): as EC2 says when it cannot.
      const err = await srv.ec2.send(new DetachVolumeCommand({ VolumeId: vol })).catch((e: Error) => e);
      expect((err as Error).name).toBe('IncorrectState');
    } finally {
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id, peer.InstanceId!] }));
      await waitState(id, 'terminated', 60_000);
      await waitState(peer.InstanceId!, 'terminated', 60_000);
    }
    // The volume is back, available, its target gone; then it goes too.
    if (vol) {
      await until(async () => (await srv.ec2.send(new DescribeVolumesCommand({ VolumeIds: [vol] }))).Volumes![0]!.State === 'available', 30_000, 200);
      expect(execFileSync('tgtadm', ['-C', process.env.PCLOUD_ISCSI_CONTROL_PORT ?? '7', '--lld', 'iscsi', '--op', 'show', '--mode', 'target']).toString()).not.toContain(vol);
      await srv.ec2.send(new DeleteVolumeCommand({ VolumeId: vol }));
    }
    // Nothing of it is left: no QEMU, no tap, no disk.
    expect(execFileSync('sh', ['-c', `pgrep -f '[q]emu-system-x86_64.*${id}' || true`]).toString().trim()).toBe('');
    expect(existsSync(join(srv.dataDir, 'pool/instances', `${id}.raw`))).toBe(false);
    const after = hostInventory();
    // Router ports (its tap) are gone; the VPC's router and uplink stay, as they do for every VPC. (Its VPC's router:
    // other runs on this host have routers of their own, their ports coming and going meanwhile.)
    const ports = (links: string[]) => links.filter((l) => l.startsWith(`pcloud-${vm.VpcId}/`));
    expect(ports(after.links)).toEqual(ports(before.links));
    expect(after.units).toEqual(before.units);
  }, 900_000);
});
