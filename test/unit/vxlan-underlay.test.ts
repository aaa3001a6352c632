/**
 * The host's underlay filter (vxlan.ts hostFilterText) applied for real, in two network namespaces standing for two
 * hosts on an underlay: what a process of host A may send to host B's VXLAN port. A Lambda handler runs in the host's
 * own network namespace as an unprivileged user (sandbox.ts): a datagram it sends to a peer's port 4789 leaves from A's
 * underlay address, the very address B takes A's VNIs from, so it must not leave at all. The kernel's own tunnel
 * (and root) still sends.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostFilterText, VXLAN_PORT } from '../../src/host/vxlan.js';
import { SANDBOX_UID_FIRST } from '../../src/host/sandbox-users.js';
import { FAST_TIER } from '../support/tier.js';

const skip = FAST_TIER || process.getuid?.() !== 0;
const A = `pcrv-a-${process.pid}`;
const B = `pcrv-b-${process.pid}`;
/** A's and B's VPC routers: each holds a VXLAN device made in its host's namespace (as vxlan.ts makes them). */
const RA = `pcrv-ra-${process.pid}`;
const RB = `pcrv-rb-${process.pid}`;
const MAC_RB = '02:00:00:00:00:0b';
const ADDR_A = '192.0.2.1';
const ADDR_B = '192.0.2.2';
const VNI = 4242;

const sh = (args: string[], input?: string) => execFileSync(args[0]!, args.slice(1), { input, encoding: 'utf8' });
const inNs = (ns: string, args: string[], input?: string) => sh(['ip', 'netns', 'exec', ns, ...args], input);

/** Send one UDP datagram from A to B's VXLAN port as `uid` (bash's /dev/udp: an ordinary socket of that user). */
function sendAs(uid: number): void {
  const send = `printf 'x' > /dev/udp/${ADDR_B}/${VXLAN_PORT}`;
  spawnSync('ip', ['netns', 'exec', A, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'bash', '-c', send]);
}

/** How many packets B has seen to its VXLAN port (`vxlan`), or B's router on its overlay (`inner`). */
function arrivedAtB(counter = 'vxlan', ns = B): number {
  const out = inNs(ns, ['nft', '-j', 'list', 'counter', 'inet', 'probe', counter]);
  return (JSON.parse(out) as { nftables: { counter?: { packets: number } }[] }).nftables.find((e) => e.counter)!.counter!.packets;
}

describe.skipIf(skip)("the host's underlay filter, applied", () => {
  beforeAll(() => {
    sh(['ip', 'netns', 'add', A]);
    sh(['ip', 'netns', 'add', B]);
    sh(['ip', 'link', 'add', 'pcrv-a', 'netns', A, 'type', 'veth', 'peer', 'name', 'pcrv-b', 'netns', B]);
    inNs(A, ['ip', 'addr', 'add', `${ADDR_A}/24`, 'dev', 'pcrv-a']);
    inNs(B, ['ip', 'addr', 'add', `${ADDR_B}/24`, 'dev', 'pcrv-b']);
    for (const [ns, dev] of [[A, 'pcrv-a'], [B, 'pcrv-b']] as const) inNs(ns, ['ip', 'link', 'set', dev, 'up']);
    // B counts what reaches its VXLAN port; A is B's peer for the VNI, B is A's.
    inNs(B, ['nft', '-f', '-'], `table inet probe {\n counter vxlan {}\n chain input {\n  type filter hook input priority 0;\n  udp dport ${VXLAN_PORT} counter name vxlan\n }\n}\n`);
    inNs(A, ['nft', '-f', '-'], hostFilterText(VNI, [ADDR_B], []));
    inNs(B, ['nft', '-f', '-'], hostFilterText(VNI, [ADDR_A], []));
    // The overlay: a device per router, made in its host (its socket stays there), moved into the router.
    for (const [host, router, local, addr, mac] of [[A, RA, ADDR_A, '10.9.0.1', '02:00:00:00:00:0a'], [B, RB, ADDR_B, '10.9.0.2', MAC_RB]] as const) {
      sh(['ip', 'netns', 'add', router]);
      inNs(host, ['ip', 'link', 'add', 'pcrv-vx', 'address', mac, 'type', 'vxlan', 'id', String(VNI), 'local', local, 'dstport', String(VXLAN_PORT), 'nolearning']);
      inNs(host, ['ip', 'link', 'set', 'pcrv-vx', 'netns', router]);
      inNs(router, ['ip', 'addr', 'add', `${addr}/24`, 'dev', 'pcrv-vx']);
      inNs(router, ['ip', 'link', 'set', 'pcrv-vx', 'up']);
    }
    inNs(RA, ['ip', 'neigh', 'replace', '10.9.0.2', 'lladdr', MAC_RB, 'dev', 'pcrv-vx', 'nud', 'permanent']);
    inNs(RA, ['bridge', 'fdb', 'replace', MAC_RB, 'dev', 'pcrv-vx', 'dst', ADDR_B, 'self', 'permanent']);
    inNs(RB, ['nft', '-f', '-'], 'table inet probe {\n counter inner {}\n chain input {\n  type filter hook input priority 0;\n  udp dport 9999 counter name inner\n }\n}\n');
  });
  afterAll(() => {
    for (const ns of [RA, RB, A, B]) spawnSync('ip', ['netns', 'del', ns]);
  });

  // A datagram that leaves may arrive after its sender has returned (the first waits for ARP; a loaded machine handles
  // what arrives later): what arrived is polled for. One dropped is dropped as it is sent: root's arriving alone (1,
  // not 3) shows the others never left.
  it("an unprivileged process of the host (a Lambda handler's user) cannot send to a peer's VXLAN port; root can", async () => {
    sendAs(SANDBOX_UID_FIRST);
    sendAs(65534);
    expect(arrivedAtB()).toBe(0);
    sendAs(0);
    await expect.poll(() => arrivedAtB()).toBe(1);
  });

  it("the tunnel still carries what a router sends over its overlay, an unprivileged socket's there included", async () => {
    const before = arrivedAtB();
    spawnSync('ip', ['netns', 'exec', RA, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', 'bash', '-c', "printf 'x' > /dev/udp/10.9.0.2/9999"]);
    await expect.poll(() => arrivedAtB('inner', RB)).toBe(1);
    expect(arrivedAtB()).toBe(before + 1);
  });
});
