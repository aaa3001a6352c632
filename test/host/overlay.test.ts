/**
 * The VPC plane into the real VXLAN driver, on this machine (issue 17): one real `pcloud serve` with an underlay (a
 * veth of this test's own, 198.18.77.1/24, its peer end in a namespace of its own at 198.18.77.2), and another host that exists only as rows in its database (a
 * hosts row at 198.18.77.2 and an instance of the VPC placed on it), as another host's server would write them. The
 * router of the VPC here joins that host: the overlay device with the VPC's VNI, the FDB entry to the host, the /32
 * route of its instance; an instance here reaching that address sends VXLAN to the peer's address over the underlay;
 * the last local instance gone, the router leaves. A second host's server on the same database is not possible yet
 * (SQLite, a file per host): exchanging packets between two hosts is test/host/vxlan.test.ts's (the driver, across
 * booted nodes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CreateSubnetCommand, CreateVpcCommand, DeleteSubnetCommand, DeleteVpcCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/cloud/ids.js';
import { leaderOf, startReal, waitForState, type RealServer } from '../support/real.js';
import { until } from '../support/api.js';

const UNDERLAY = { dev: 'ptovl0', ns: 'pcloud-test-ovlpeer', local: '198.18.77.1', peer: '198.18.77.2' };
const REMOTE_IP = '10.93.1.50';

let srv: RealServer;
beforeAll(async () => {
  execFileSync('sh', ['-c', `ip netns del ${UNDERLAY.ns} 2>/dev/null; ip link del ${UNDERLAY.dev} 2>/dev/null; ip netns add ${UNDERLAY.ns} &&
    ip link add ${UNDERLAY.dev} type veth peer name eth0 netns ${UNDERLAY.ns} && ip addr add ${UNDERLAY.local}/24 dev ${UNDERLAY.dev} &&
    ip link set ${UNDERLAY.dev} up && ip -n ${UNDERLAY.ns} addr add ${UNDERLAY.peer}/24 dev eth0 && ip -n ${UNDERLAY.ns} link set eth0 up`]);
  srv = await startReal({ env: { PCLOUD_UNDERLAY_ADDRESS: UNDERLAY.local, PCLOUD_UNDERLAY_DEVICE: UNDERLAY.dev } });
}, 120_000);
afterAll(async () => {
  await srv?.stop();
  execFileSync('sh', ['-c', `ip netns del ${UNDERLAY.ns} 2>/dev/null; ip link del ${UNDERLAY.dev} 2>/dev/null; true`]);
});

const sh = (cmd: string[]) => execFileSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
const ns = (vpcId: string) => `pcloud-${vpcId}`;
const device = (vpcId: string) => {
  try {
    return (JSON.parse(sh(['ip', '-n', ns(vpcId), '-d', '-j', 'link', 'show', 'overlay'])) as { linkinfo: { info_data: { id: number; local: string } } }[])[0];
  } catch {
    return undefined;
  }
};
/** UDP datagrams that reached the peer host's address for a port nothing listens on (its VXLAN port: no device there). */
const peerUdpNoPorts = () => {
  const lines = sh(['ip', 'netns', 'exec', UNDERLAY.ns, 'cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  return Number(values![names!.indexOf('NoPorts')]);
};

describe('a VPC router joins another host over the real VXLAN driver', () => {
  it('joins the host holding an instance of the VPC, sends to it over the underlay, and leaves with the last local instance', async () => {
    const ec2 = srv.ec2;
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.93.0.0/16' }))).Vpc!;
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.93.1.0/24' }))).Subnet!;
    const run = async () => (await ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, SubnetId: subnet.SubnetId }))).Instances![0]!.InstanceId!;
    const a = await run();
    await waitForState(ec2, a, 'running', 90_000, 100);

    // The other host and its instance, as its server would write them.
    const db = new Database(join(srv.dataDir, 'pcloud.db'));
    const vni = (db.prepare('select vni from vpcs where id = ?').get(vpc.VpcId) as { vni: number }).vni;
    expect(vni).toBeGreaterThan(0);
    const hostId = newId('h');
    const now = Date.now();
    db.prepare(`insert into hosts (id, name, availability_zone, address, runtimes, accel, vcpus, memory_mib, state, boot_id, heartbeat_at, created_at)
      values (?, ?, 'us-east-1a', ?, '["container"]', 'tcg', 2, 2048, 'available', 'b', ?, ?)`).run(hostId, `peer-${hostId}`, UNDERLAY.peer, now, now);
    const remote = newId('i');
    const row = db.prepare('select * from instances where id = ?').get(a) as Record<string, unknown>;
    const cols = Object.keys(row);
    db.prepare(`insert into instances (${cols.join(', ')}) values (${cols.map((c) => `@${c}`).join(', ')})`)
      .run({ ...row, id: remote, private_ip: REMOTE_IP, mac_address: '0e:00:00:00:93:50', host_id: hostId, public_ip: null });

    // Alone here until now; the next launch joins the routers with what the database holds.
    const b = await run();
    await waitForState(ec2, b, 'running', 90_000, 100);
    const dev = device(vpc.VpcId!);
    expect(dev?.linkinfo.info_data).toMatchObject({ id: vni, local: UNDERLAY.local });
    const fdb = JSON.parse(sh(['ip', 'netns', 'exec', ns(vpc.VpcId!), 'bridge', '-j', 'fdb', 'show', 'dev', 'overlay'])) as { dst?: string }[];
    expect(fdb.map((f) => f.dst)).toEqual([UNDERLAY.peer]);
    expect(sh(['ip', '-n', ns(vpc.VpcId!), 'route', 'show', `${REMOTE_IP}/32`])).toContain('dev overlay');
    expect(sh(['nft', 'list', 'table', 'inet', 'pcloud_vxlan'])).toContain(UNDERLAY.peer);

    // From an instance here, a connection to the remote address reaches the peer host's address encapsulated (no
    // VXLAN device there takes it: only what arrived counts).
    const before = peerUdpNoPorts();
    spawnSync('nsenter', ['-t', String(leaderOf(a, srv.dataDir)), '-n', '--', 'timeout', '2', 'bash', '-c', `exec 3<>/dev/tcp/${REMOTE_IP}/80`], { stdio: 'ignore' });
    expect(peerUdpNoPorts() - before).toBeGreaterThanOrEqual(1);

    // The last local instance gone (the remote one remains): the router leaves the overlay.
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [a] }));
    await waitForState(ec2, a, 'terminated', 90_000, 100);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [b] }));
    await waitForState(ec2, b, 'terminated', 90_000, 100);
    await until(() => device(vpc.VpcId!) === undefined, 10_000, 100);
    expect(sh(['nft', 'list', 'table', 'inet', 'pcloud_vxlan'])).not.toContain(UNDERLAY.peer);

    db.prepare("update instances set state = 'terminated', terminated_at = ? where id = ?").run(Date.now(), remote);
    db.prepare('delete from hosts where id = ?').run(hostId);
    db.close();
    await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  }, 300_000);
});
