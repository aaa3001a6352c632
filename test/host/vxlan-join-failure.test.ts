/**
 * The VXLAN driver on this machine's own kernel, when a join fails part-way: the host's filter takes a VNI's packets
 * from its peers only, and is written before the device is made; a device that cannot be made (here: another device
 * of the host already has the VNI) takes the VNI out of the filter again, so nothing of the failed join stays.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostFilterText, joinOverlay, leaveOverlay, parsePeerSet } from '../../src/host/vxlan.js';

const VPC = 'vpc-0feedc0ffee123456';
const NS = `pcloud-${VPC}`;
const VNI = 4_242_001;
const STRAY = 'pctvxstray0';
const overlay = { vni: VNI, local: '198.18.99.2', peers: [{ host: '198.18.99.3', instances: [{ ip: '10.1.0.5' }] }] };

const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
const setJson = (set: string) => sh(`nft -j list set inet pcloud_vxlan ${set}`).stdout;
/** The VNI's peers in the host's filter, and whether the VNI is filtered at all. */
const filter = () => ({ peers: parsePeerSet(setJson('peers'), VNI), filtered: JSON.stringify(JSON.parse(setJson('vnis') || '{}')).includes(String(VNI)) });

beforeAll(() => {
  sh(`ip netns del ${NS} 2>/dev/null; ip link del ${STRAY} 2>/dev/null`);
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['link', 'add', STRAY, 'type', 'vxlan', 'id', String(VNI), 'local', '198.18.99.1', 'dstport', '4789', 'nolearning']);
});
afterAll(async () => {
  await leaveOverlay(VPC, NS).catch(() => undefined);
  sh(`ip netns del ${NS} 2>/dev/null; ip link del ${STRAY} 2>/dev/null`);
});

describe('a VXLAN join that fails part-way', () => {
  it('puts the host\'s filter back as it was for the VNI when its device cannot be made; joined later, the filter has it; left, it goes', async () => {
    await expect(joinOverlay(VPC, NS, overlay)).rejects.toThrow();
    expect(filter()).toEqual({ peers: [], filtered: false });
    expect(sh(`ip -n ${NS} link show overlay`).status).not.toBe(0);

    // The VNI another pcloud's device holds, with that one's peers: they are as they were after the failed join.
    execFileSync('nft', ['-f', '-'], { input: hostFilterText(VNI, ['198.18.99.9'], []) });
    await expect(joinOverlay(VPC, NS, overlay)).rejects.toThrow();
    expect(filter()).toEqual({ peers: ['198.18.99.9'], filtered: true });
    execFileSync('nft', ['-f', '-'], { input: hostFilterText(VNI, undefined, ['198.18.99.9']) });

    execFileSync('ip', ['link', 'del', STRAY]);
    await joinOverlay(VPC, NS, overlay);
    expect(filter()).toEqual({ peers: ['198.18.99.3'], filtered: true });
    await leaveOverlay(VPC, NS);
    expect(filter()).toEqual({ peers: [], filtered: false });
  });
});
