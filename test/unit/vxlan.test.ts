/** The VXLAN overlay's argv and batch lines (src/host/vxlan.ts): what reaches `ip`/`bridge`/`nft` is checked or refused. */
import { describe, expect, it } from 'vitest';
import {
  checkOverlay, createLines, deviceMatches, entryLines, hostFilterText, hostTempName, overlayNft, parsePeerSet, parseState, routerMac, vpcId,
  type Overlay, type OverlayState,
} from '../../src/host/vxlan.js';
import { FakeNetwork } from '../support/fake-host.js';

const VPC = 'vpc-0123456789abcdef0';
const base = (): Overlay => ({
  vni: 4242, local: '192.168.50.1', device: 'eth1',
  peers: [
    { host: '192.168.50.2', instances: [{ ip: '10.0.1.20' }, { ip: '10.0.1.21' }] },
    { host: '192.168.50.3', instances: [{ ip: '10.0.2.30' }] },
  ],
});
const empty = (): OverlayState => ({ routes: [], neighbours: [], fdb: [] });
const HOSTILE = ['', ' ', '10.0.0.1\nlink del br0', '10.0.0.1;reboot', '10.0.0.1 dev lo', '{', '}', '$(id)', '%s', '"', "'", '\0', 'x'.repeat(100_000)];

describe('overlay validation', () => {
  it('takes a well-formed overlay as it is', () => {
    expect(checkOverlay(base())).toEqual(base());
    expect(checkOverlay({ vni: 1, local: '10.9.0.1', peers: [] }).peers).toEqual([]);
    expect(checkOverlay({ vni: 16_777_215, local: '10.9.0.1', peers: [] }).vni).toBe(16_777_215);
  });

  it.each([0, -1, 16_777_216, 1.5, Number.NaN, Infinity])('refuses VNI %s', (vni) => {
    expect(() => checkOverlay({ ...base(), vni })).toThrow(/VNI/);
  });

  it.each([...HOSTILE, '0.0.0.0', '255.255.255.255', '224.0.0.1', '239.1.1.1', '127.0.0.1', '10.0.0.256', '10.0.0', '::1'])(
    'refuses %j as an address anywhere', (bad) => {
      expect(() => checkOverlay({ ...base(), local: bad })).toThrow();
      expect(() => checkOverlay({ ...base(), peers: [{ host: bad, instances: [] }] })).toThrow();
      expect(() => checkOverlay({ ...base(), peers: [{ host: '192.168.50.2', instances: [{ ip: bad }] }] })).toThrow();
    });

  it.each([...HOSTILE, 'eth0 type dummy', 'a'.repeat(16), '../x', 'eth0/1', 'eth:0', '-eth0'])('refuses %j as the underlay device', (device) => {
    expect(() => checkOverlay({ ...base(), device })).toThrow(/interface/);
  });

  it('refuses ambiguity: this host as a peer, a host twice, an address on two hosts', () => {
    expect(() => checkOverlay({ ...base(), peers: [{ host: '192.168.50.1', instances: [] }] })).toThrow(/this host/);
    expect(() => checkOverlay({ ...base(), peers: [{ host: '192.168.50.2', instances: [] }, { host: '192.168.50.2', instances: [] }] })).toThrow(/twice/);
    expect(() => checkOverlay({
      ...base(), peers: [{ host: '192.168.50.2', instances: [{ ip: '10.0.1.5' }] }, { host: '192.168.50.3', instances: [{ ip: '10.0.1.5' }] }],
    })).toThrow(/twice/);
  });

  it.each([...HOSTILE, 'vpc-0123', 'vpc-0123456789ABCDEF0', 'vpc-0123456789abcdef0 ', 'i-0123456789abcdef0'])('refuses %j as a VPC id', (bad) => {
    expect(() => vpcId(bad)).toThrow(/VPC id/);
    expect(() => hostTempName(bad)).toThrow(/VPC id/);
  });
});

describe('router MACs', () => {
  it('are locally administered unicast, the same on every host, different per host and per VNI', () => {
    const m = routerMac(4242, '192.168.50.2');
    expect(m).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = parseInt(m.slice(0, 2), 16);
    expect(first & 1).toBe(0);
    expect(first & 2).toBe(2);
    expect(routerMac(4242, '192.168.50.2')).toBe(m);
    expect(routerMac(4242, '192.168.50.3')).not.toBe(m);
    expect(routerMac(4243, '192.168.50.2')).not.toBe(m);
  });
});

describe('the device', () => {
  it('is made in the host namespace on the underlay, unlearning, on 4789, with no group or default destination, then moved', () => {
    const lines = createLines(VPC, 'pcloud-' + VPC, base());
    expect(lines).toEqual([
      `link add px0123456789ab address ${routerMac(4242, '192.168.50.1')} type vxlan id 4242 local 192.168.50.1 dev eth1 dstport 4789 nolearning`,
      `link set px0123456789ab netns pcloud-${VPC}`,
    ]);
    expect(lines.join(' ')).not.toMatch(/group|remote/);
    expect(createLines(VPC, 'ns', { ...base(), device: undefined })[0]).not.toContain(' dev ');
  });

  it('is made again when what is there is not what is asked', () => {
    const ok = { vni: 4242, local: '192.168.50.1', port: 4789, learning: false, group: false, mac: routerMac(4242, '192.168.50.1') };
    const with_ = (d: Partial<typeof ok>) => ({ ...empty(), device: { ...ok, ...d } });
    expect(deviceMatches(with_({}), base())).toBe(true);
    expect(deviceMatches(empty(), base())).toBe(false);
    for (const d of [{ vni: 1 }, { local: '192.168.50.9' }, { port: 8472 }, { learning: true }, { group: true }, { mac: '02:00:00:00:00:01' }]) {
      expect(deviceMatches(with_(d), base())).toBe(false);
    }
  });
});

describe('forwarding entries', () => {
  const peerMac = (h: string) => routerMac(4242, h);

  it('from nothing: one FDB entry per peer host, a neighbour and a /32 per remote instance, no all-zero entry', () => {
    const { ip, bridge } = entryLines(empty(), base());
    expect(bridge).toEqual([
      `fdb replace ${peerMac('192.168.50.2')} dev overlay dst 192.168.50.2 self permanent`,
      `fdb replace ${peerMac('192.168.50.3')} dev overlay dst 192.168.50.3 self permanent`,
    ]);
    expect(ip).toEqual([
      `neigh replace 10.0.1.20 lladdr ${peerMac('192.168.50.2')} dev overlay nud permanent`, 'route replace 10.0.1.20/32 dev overlay',
      `neigh replace 10.0.1.21 lladdr ${peerMac('192.168.50.2')} dev overlay nud permanent`, 'route replace 10.0.1.21/32 dev overlay',
      `neigh replace 10.0.2.30 lladdr ${peerMac('192.168.50.3')} dev overlay nud permanent`, 'route replace 10.0.2.30/32 dev overlay',
    ]);
    expect(bridge.join('\n')).not.toContain('00:00:00:00:00:00');
  });

  it('asked again with what is there: nothing to do', () => {
    const there: OverlayState = {
      routes: ['10.0.1.20', '10.0.1.21', '10.0.2.30'],
      neighbours: [{ ip: '10.0.1.20', mac: peerMac('192.168.50.2') }, { ip: '10.0.1.21', mac: peerMac('192.168.50.2') }, { ip: '10.0.2.30', mac: peerMac('192.168.50.3') }],
      fdb: [{ mac: peerMac('192.168.50.2'), dst: '192.168.50.2' }, { mac: peerMac('192.168.50.3'), dst: '192.168.50.3' }],
    };
    expect(entryLines(there, base())).toEqual({ ip: [], bridge: [] });
  });

  it('converges: a peer gone, an instance moved host, a stray flooding entry removed', () => {
    const there: OverlayState = {
      routes: ['10.0.1.20', '10.0.1.21', '10.0.2.30', '10.0.9.9'],
      neighbours: [{ ip: '10.0.1.20', mac: peerMac('192.168.50.2') }, { ip: '10.0.1.21', mac: peerMac('192.168.50.2') },
        { ip: '10.0.2.30', mac: peerMac('192.168.50.3') }, { ip: '10.0.9.9', mac: peerMac('192.168.50.9') }],
      fdb: [{ mac: peerMac('192.168.50.2'), dst: '192.168.50.2' }, { mac: peerMac('192.168.50.3'), dst: '192.168.50.3' },
        { mac: peerMac('192.168.50.9'), dst: '192.168.50.9' }, { mac: '00:00:00:00:00:00', dst: '239.1.1.1' }],
    };
    // 10.0.1.21 moved to .3; .2 keeps 10.0.1.20; .9 left.
    const want: Overlay = { ...base(), peers: [
      { host: '192.168.50.2', instances: [{ ip: '10.0.1.20' }] },
      { host: '192.168.50.3', instances: [{ ip: '10.0.2.30' }, { ip: '10.0.1.21' }] },
    ] };
    const { ip, bridge } = entryLines(there, want);
    expect(ip).toEqual([
      'route del 10.0.9.9/32 dev overlay', 'neigh del 10.0.9.9 dev overlay',
      `neigh replace 10.0.1.21 lladdr ${peerMac('192.168.50.3')} dev overlay nud permanent`,
    ]);
    expect(bridge).toEqual([
      `fdb del ${peerMac('192.168.50.9')} dev overlay dst 192.168.50.9 self`,
      'fdb del 00:00:00:00:00:00 dev overlay dst 239.1.1.1 self',
    ]);
  });

  it('refuses hostile values read back rather than rendering them', () => {
    expect(() => entryLines({ ...empty(), routes: ['10.0.0.1\nlink del br0'] }, base())).toThrow();
    expect(() => entryLines({ ...empty(), fdb: [{ mac: 'aa:bb:cc:dd:ee:ff dev lo', dst: '1.2.3.4' }] }, base())).toThrow(/MAC/);
  });
});

describe('the overlay filter', () => {
  it('carries only the remote instances, only to and from instance ports, and clamps the MSS', () => {
    const text = overlayNft(['10.0.1.20', '10.0.2.30']);
    expect(text).toContain('elements = { 10.0.1.20, 10.0.2.30 }');
    expect(text).toContain('iifname "overlay" ip saddr != @remote drop');
    expect(text).toContain('oifname "overlay" ip daddr != @remote drop');
    expect(text).toContain('iifname "overlay" oifname != "v*" drop');
    expect(text).toContain('tcp option maxseg size set rt mtu');
    expect(text).toMatch(/chain input \{[^}]*iifname "overlay" drop/);
    // Its own table: the security groups' (pcloud_sg) is never replaced by it, nor it by them.
    expect(text.split('\n').slice(0, 2)).toEqual(['table inet pcloud_overlay', 'delete table inet pcloud_overlay']);
    expect(overlayNft([])).not.toContain('elements');
  });

  it.each(HOSTILE)('refuses %j as a remote address', (bad) => {
    expect(() => overlayNft([bad])).toThrow();
  });
});

describe('the host\'s underlay filter', () => {
  it('takes a VNI only from its peers: one idempotent transaction, stale peers removed', () => {
    const text = hostFilterText(101, ['192.168.50.2', '192.168.50.3'], ['192.168.50.2', '192.168.50.9']);
    const lines = text.trim().split('\n');
    expect(lines).toContain('add rule inet pcloud_vxlan input udp dport 4789 @th,96,24 @vnis ip saddr . @th,96,24 != @peers drop');
    expect(lines).toContain('add rule inet pcloud_vxlan forward iifname "pu*" udp dport 4789 drop');
    // Rules are replaced (flushed, added), never appended twice; the table and sets only made if missing.
    expect(lines.filter((l) => l.startsWith('flush chain'))).toHaveLength(3);
    // No unprivileged process of the host (a Lambda handler) sends to a peer's VXLAN port (vxlan-underlay.test.ts).
    expect(lines).toContain('add rule inet pcloud_vxlan output udp dport 4789 meta skuid != 0 drop');
    expect(lines.filter((l) => /^(create|table|delete table)/.test(l))).toEqual([]);
    expect(lines).toContain('delete element inet pcloud_vxlan peers { 192.168.50.9 . 101 }');
    expect(lines).toContain('add element inet pcloud_vxlan vnis { 101 }');
    expect(lines).toContain('add element inet pcloud_vxlan peers { 192.168.50.2 . 101, 192.168.50.3 . 101 }');
  });

  it('a VNI leaving takes its peers and itself out', () => {
    const lines = hostFilterText(101, undefined, ['192.168.50.2']).trim().split('\n');
    expect(lines.slice(-3)).toEqual([
      'delete element inet pcloud_vxlan peers { 192.168.50.2 . 101 }',
      'add element inet pcloud_vxlan vnis { 101 }', 'delete element inet pcloud_vxlan vnis { 101 }',
    ]);
    expect(hostFilterText(7, [], [])).not.toContain('element inet pcloud_vxlan peers');
  });

  it.each(HOSTILE)('refuses %j as a peer', (bad) => {
    expect(() => hostFilterText(101, [bad], [])).toThrow();
    expect(() => hostFilterText(101, [], [bad])).toThrow();
  });

  it('reads back one VNI\'s peers from nft\'s JSON', () => {
    const json = JSON.stringify({ nftables: [{ metainfo: {} }, { set: { name: 'peers', elem: [{ concat: ['192.168.1.2', 101] }, { concat: ['192.168.1.3', 102] }] } }] });
    expect(parsePeerSet(json, 101)).toEqual(['192.168.1.2']);
    expect(parsePeerSet(JSON.stringify({ nftables: [{ set: { name: 'peers' } }] }), 101)).toEqual([]);
    expect(parsePeerSet('', 101)).toEqual([]);
  });
});

describe('state read back', () => {
  it('parses ip and bridge JSON: only vxlan devices, host routes, permanent neighbours, FDB entries with a destination', () => {
    const link = JSON.stringify([{ ifname: 'overlay', address: '02:aa:00:00:00:01', linkinfo: { info_kind: 'vxlan', info_data: { id: 42, local: '192.168.77.1', port: 4789, learning: false } } }]);
    const routes = JSON.stringify([{ dst: '10.0.1.20', scope: 'link' }, { dst: '10.0.0.0/8' }]);
    const neigh = JSON.stringify([{ dst: '10.0.1.20', lladdr: '02:bb:00:00:00:02', state: ['PERMANENT'] }, { dst: '10.0.1.30', lladdr: '02:bb:00:00:00:02', state: ['STALE'] }]);
    const fdb = JSON.stringify([{ mac: '02:bb:00:00:00:02', dst: '192.168.77.2', flags: ['self'], state: 'permanent' }, { mac: '33:33:00:00:00:01', flags: ['self'], state: 'permanent' }]);
    expect(parseState(link, routes, neigh, fdb)).toEqual({
      device: { vni: 42, local: '192.168.77.1', port: 4789, learning: false, group: false, mac: '02:aa:00:00:00:01' },
      routes: ['10.0.1.20'],
      neighbours: [{ ip: '10.0.1.20', mac: '02:bb:00:00:00:02' }, { ip: '10.0.1.30', mac: '' }],
      fdb: [{ mac: '02:bb:00:00:00:02', dst: '192.168.77.2' }],
    });
    expect(parseState(JSON.stringify([{ linkinfo: { info_kind: 'veth' } }]), '', '', '').device).toBeUndefined();
  });
});

describe('the recording fake', () => {
  it('keeps the last overlay per VPC and every call, and refuses what the driver refuses', async () => {
    const net = new FakeNetwork();
    await net.joinVpc(VPC, base());
    await net.joinVpc(VPC, { ...base(), peers: [] });
    await net.leaveVpc(VPC);
    expect(net.overlayCalls.map((c) => c.op)).toEqual(['join', 'join', 'leave']);
    expect(net.overlays.has(VPC)).toBe(false);
    await expect(net.joinVpc(VPC, { ...base(), vni: 0 })).rejects.toThrow(/VNI/);
  });
});
