/**
 * A VPC across two hosts over VXLAN, for real: two booted systemd test hosts on an underlay (vxlan-nodes.ts), in each
 * the same VPC router made by pcloud's NetworkDriver, instances attached as the domain attaches them, the routers
 * joined with `joinVpc`. HTTP by private IP crosses hosts both ways; another VPC (another VNI, the same CIDR, even the
 * same address) stays apart; a security group on the far end still refuses; an entry withdrawn stops the traffic (no
 * flooding finds the way instead).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Nic, Overlay, PortRules } from '../../src/host/index.js';
import { routerMac } from '../../src/host/vxlan.js';
import { run } from '../../src/host/exec.js';
import { bootPair, UNDERLAY, type HostNode, type Pair } from './vxlan-nodes.js';

let pair: Pair;
const VPC1 = 'vpc-0a1000000000000f1';
const VPC2 = 'vpc-0a2000000000000f2';
const GW = '10.0.1.1';
const nic = (instanceId: string, vpcId: string, ip: string, n: number): Nic => ({
  instanceId, vpcId, ip, prefixLength: 24, gateway: GW, mac: `0e:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
});
// VPC 1: a1 on host A, b1 on host B. VPC 2 (same CIDR): c1 on A with a1's very address, d1 on B.
const a1 = nic('i-0a10000000000000a', VPC1, '10.0.1.10', 1);
const b1 = nic('i-0b10000000000000b', VPC1, '10.0.1.20', 2);
const c1 = nic('i-0c10000000000000c', VPC2, '10.0.1.10', 3);
const d1 = nic('i-0d10000000000000d', VPC2, '10.0.1.30', 4);
const OPEN = [{ protocol: '-1', cidrs: ['0.0.0.0/0'] }];
const open = (n: Nic): PortRules => ({ instanceId: n.instanceId, ip: n.ip, ingress: OPEN, egress: OPEN });
const url = (n: Nic) => `http://${n.ip}:8080/who`;

function overlay(vni: number, self: HostNode, peer: HostNode, peerInstances: Nic[]): Overlay {
  return { vni, local: self.underlay, device: 'u0', peers: [{ host: peer.underlay, instances: peerInstances.map((n) => ({ ip: n.ip })) }] };
}

/** What a router's overlay holds: its device's details, routes, neighbours and FDB (for equality across calls). */
async function overlayState(h: HostNode, vpcId: string): Promise<string> {
  const ns = `pcloud-${vpcId}`;
  return (await h.sh(`ip -n ${ns} -d link show dev overlay && ip -n ${ns} -4 route show dev overlay && `
    + `ip -n ${ns} -4 neigh show dev overlay && bridge -n ${ns} fdb show dev overlay`)).out;
}

beforeAll(async () => {
  pair = await bootPair();
  const { a, b } = pair;
  for (const [host, vpcId, nics] of [[a, VPC1, [a1]], [b, VPC1, [b1]], [a, VPC2, [c1]], [b, VPC2, [d1]]] as const) {
    await host.calls([['ensureVpc', vpcId, [{ address: GW, prefixLength: 24 }]], ...nics.map((n) => ['attach', n] as [string, Nic]),
      ['applyFirewall', vpcId, nics.map(open)]]);
    for (const n of nics) await host.serve(n.instanceId, n.ip, n.instanceId);
  }
  await a.calls([['joinVpc', VPC1, overlay(101, a, b, [b1])], ['joinVpc', VPC2, overlay(102, a, b, [d1])]]);
  await b.calls([['joinVpc', VPC1, overlay(101, b, a, [a1])], ['joinVpc', VPC2, overlay(102, b, a, [c1])]]);
}, 300_000);
afterAll(async () => { await pair?.stop(); });

describe('a VPC across two hosts over VXLAN', () => {
  it('an instance reaches one on the other host by private IP, and back', async () => {
    expect(await pair.a.get(a1.instanceId, url(b1))).toBe(b1.instanceId);
    expect(await pair.b.get(b1.instanceId, url(a1))).toBe(a1.instanceId);
  });

  it('full-size segments cross both ways (the overlay has the underlay\'s MTU less VXLAN\'s 50 bytes)', async () => {
    expect(await pair.a.size(a1.instanceId, `http://${b1.ip}:8080/big`)).toBe(300_000);
    expect(await pair.b.size(b1.instanceId, `http://${a1.ip}:8080/big`)).toBe(300_000);
  });

  it('another VPC (another VNI, the same CIDR) reaches its own across hosts and never the first one\'s', async () => {
    expect(await pair.a.get(c1.instanceId, url(d1))).toBe(d1.instanceId);
    // d1 asks for 10.0.1.10: VPC 2's (c1), never a1 at the same address in VPC 1.
    expect(await pair.b.get(d1.instanceId, url(c1))).toBe(c1.instanceId);
    expect(await pair.a.get(c1.instanceId, url(b1))).toBe('');
    expect(await pair.b.get(b1.instanceId, url(d1))).toBe('');
  });

  it('nothing floods: no learning, no group, no all-zero entry; only the peers\' entries, and joining again changes nothing', async () => {
    const before = await overlayState(pair.a, VPC1);
    expect(before).toContain('vxlan id 101 local 192.168.213.1');
    expect(before).toContain('dstport 4789 nolearning');
    expect(before).not.toMatch(/ group (?!default)| remote |00:00:00:00:00:00/);
    expect(before).toContain('\n10.0.1.20 scope link');
    expect(before).toMatch(/10\.0\.1\.20 lladdr [0-9a-f:]{17} PERMANENT/);
    expect(before.match(/ dst \S+/g)).toEqual([' dst 192.168.213.2']);
    await pair.a.net('joinVpc', VPC1, overlay(101, pair.a, pair.b, [b1]));
    expect(await overlayState(pair.a, VPC1)).toBe(before);
  });

  it('a security group on the far end refuses the port: the request does not cross; opened again, it does', async () => {
    await pair.b.net('applyFirewall', VPC1, [{ ...open(b1), ingress: [{ protocol: 'tcp', fromPort: 22, toPort: 22, cidrs: ['0.0.0.0/0'] }] }]);
    expect(await pair.a.get(a1.instanceId, url(b1))).toBe('');
    await pair.b.net('applyFirewall', VPC1, [open(b1)]);
    expect(await pair.a.get(a1.instanceId, url(b1))).toBe(b1.instanceId);
  });

  it('a security group on the near end refuses the way out: the request does not leave; opened again, it does', async () => {
    await pair.a.net('applyFirewall', VPC1, [{ ...open(a1), egress: [{ protocol: 'udp', fromPort: 53, toPort: 53, cidrs: ['0.0.0.0/0'] }] }]);
    expect(await pair.a.get(a1.instanceId, url(b1))).toBe('');
    await pair.a.net('applyFirewall', VPC1, [open(a1)]);
    expect(await pair.a.get(a1.instanceId, url(b1))).toBe(b1.instanceId);
  });

  // A VXLAN packet forged by hand: B's router's frame carrying UDP from b1 to a1 (port 9999), sent to A's port 4789.
  const FORGE = `
import socket, struct, sys
host, vni, dmac, smac, sip, dip = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
body = b'forged'
udp = struct.pack('!HHHH', 40000, 9999, 8 + len(body), 0) + body
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(sip), socket.inet_aton(dip))
words = struct.unpack('!10H', ip)
c = sum(words); c = (c >> 16) + (c & 0xffff); c = ~(c + (c >> 16)) & 0xffff
ip = ip[:10] + struct.pack('!H', c) + ip[12:]
eth = bytes.fromhex(dmac.replace(':', '')) + bytes.fromhex(smac.replace(':', '')) + b'\\x08\\x00'
vx = struct.pack('!II', 0x08000000, vni << 8)
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(vx + eth + ip + udp, (host, 4789))
`;
  /** Whether a1 receives the forged packet sent by `send` (a command line taking FORGE's arguments). */
  async function forgedArrives(send: (args: string[]) => Promise<unknown>): Promise<boolean> {
    const ns = `pcloud-${a1.instanceId}`;
    const got = pair.a.sh(`ip netns exec ${ns} timeout 5 python3 -c "import socket; s = socket.socket(2, 2); s.bind(('${a1.ip}', 9999)); print(s.recv(64).decode())"`);
    while ((await pair.a.sh(`ip netns exec ${ns} ss -Huln 'sport = :9999' | grep -q .`)).code !== 0) await new Promise((r) => setTimeout(r, 50));
    await send([UNDERLAY.a, '101', routerMac(101, UNDERLAY.a), routerMac(101, UNDERLAY.b), b1.ip, a1.ip]);
    return (await got).out.includes('forged');
  }

  it('the host takes a VNI\'s packets from its peers only: the same forged packet arrives from B, not from elsewhere on the underlay', async () => {
    // From B (a peer of VNI 101): delivered, as the kernel would deliver any packet of the VNI.
    expect(await forgedArrives((args) => pair.b.node.exec(['python3', '-c', FORGE, ...args]))).toBe(true);
    // From another address on the underlay: dropped by the host's filter before its VXLAN device sees it.
    await run('ip', ['-n', 'pcvx-under', 'addr', 'replace', '192.168.213.9/24', 'dev', 'br0']);
    expect(await forgedArrives((args) => run('ip', ['netns', 'exec', 'pcvx-under', 'python3', '-c', FORGE, ...args]))).toBe(false);
    expect((await pair.a.sh('nft list table inet pcloud_vxlan')).out).toMatch(/192\.168\.213\.2 \. 0x(0+)?65/);
  });

  it('the peer\'s entry withdrawn, the traffic stops (nothing floods to find it); given back, it flows', async () => {
    await pair.a.net('joinVpc', VPC1, { ...overlay(101, pair.a, pair.b, []), peers: [] });
    const state = await overlayState(pair.a, VPC1);
    expect(state).not.toContain('10.0.1.20');
    expect(state).not.toContain(' dst ');
    expect(await pair.a.get(a1.instanceId, url(b1))).toBe('');
    // B still knows A: its request leaves, and A's router, which no longer knows B, takes nothing from it.
    expect(await pair.b.get(b1.instanceId, url(a1))).toBe('');
    await pair.a.net('joinVpc', VPC1, overlay(101, pair.a, pair.b, [b1]));
    expect(await pair.a.get(a1.instanceId, url(b1))).toBe(b1.instanceId);
  });

  it('leaving the overlay removes the device and its filter; the router stays, its own instances attached; it may join again', async () => {
    await pair.a.net('leaveVpc', VPC2);
    expect((await pair.a.sh(`ip -n pcloud-${VPC2} link show dev overlay`)).code).not.toBe(0);
    expect((await pair.a.sh(`ip netns exec pcloud-${VPC2} nft list tables`)).out).not.toContain('pcloud_overlay');
    expect((await pair.a.sh(`ip -o link show | grep -c ' px' || true`)).out.trim()).toBe('0');
    expect(await pair.b.get(d1.instanceId, url(c1))).toBe('');
    expect(await pair.a.net('ports', VPC2)).toEqual([`v${c1.instanceId.slice(2, 16)}`]);
    // Joined again, the device is made anew (its VNI free again) and the VPC's hosts meet as before.
    await pair.a.net('joinVpc', VPC2, overlay(102, pair.a, pair.b, [d1]));
    expect(await pair.b.get(d1.instanceId, url(c1))).toBe(c1.instanceId);
  });
});
