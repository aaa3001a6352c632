/**
 * NFS reaches only instances with a volume, each for its own export: the router SNATs each such instance's NFS traffic
 * to its own address (and lets no other through), the host's filter lets only exported addresses reach the port.
 * The rules are checked by nft itself (`nft -c`, nothing applied).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { nfsClientAddress, routerNft } from '../../src/host/network.js';
import { hostFilter } from '../../src/host/nfs.js';
import { FAST_TIER } from '../support/tier.js';

const nftCheck = (text: string) => spawnSync('nft', ['-c', '-f', '-'], { input: text, encoding: 'utf8' });

describe('NFS client addresses', () => {
  it('are one per instance, in 240.0.0.0/4, the same each time', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);
    const addrs = ids.map(nfsClientAddress);
    expect(new Set(addrs).size).toBe(ids.length);
    for (const a of addrs) {
      const o = a.split('.').map(Number);
      expect(o[0]).toBeGreaterThanOrEqual(240);
      expect(o.every((x) => x >= 0 && x <= 255)).toBe(true);
      expect(a).not.toBe('255.255.255.255');
    }
    expect(nfsClientAddress(ids[0]!)).toBe(addrs[0]);
  });
});

describe('router rules for NFS', () => {
  const host = '100.64.0.1';
  const clients = [{ ip: '172.31.0.10', nat: nfsClientAddress('i-a') }, { ip: '172.31.0.11', nat: nfsClientAddress('i-b') }];
  const without = () => routerNft({ internet: true }, host);
  const withClients = () => routerNft({ internet: false, nfs: { clients, port: 12049 } }, host);

  it('without NFS clients, nothing reaches the host through the router', () => {
    const text = without();
    expect(text).toContain(`ip daddr ${host} drop`);
    expect(text).not.toMatch(/dport \d+ accept/);
  });

  it('each client is SNATed to its own address, only to the NFS port, and only the clients pass', () => {
    const text = withClients();
    expect(text).toContain(`oifname "uplink" ip daddr ${host} tcp dport 12049 snat to ip saddr map { 172.31.0.10 : ${clients[0]!.nat}, 172.31.0.11 : ${clients[1]!.nat} }`);
    expect(text).toContain(`ip saddr { 172.31.0.10, 172.31.0.11 } ip daddr ${host} tcp dport 12049 accept`);
    expect(text.indexOf('tcp dport 12049 accept')).toBeLessThan(text.indexOf(`ip daddr ${host} drop`));
    // No blanket masquerade of NFS to the router's address (it would make every instance one client).
    expect(text).not.toContain('masquerade');
  });

  it.skipIf(FAST_TIER)('are valid nft, with and without clients', () => {
    for (const text of [without(), withClients()]) {
      const check = nftCheck(text);
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
    }
  });
});

describe("the host's filter in front of ganesha", () => {
  it('lets only exported addresses (and the host itself) reach the port, over TCP and UDP', () => {
    const text = hostFilter(12049, ['240.1.2.3', '240.4.5.6']);
    expect(text).toContain('meta l4proto { tcp, udp } th dport 12049 iifname != "lo" ip saddr { 240.1.2.3, 240.4.5.6 } accept');
    expect(text.trim().split('\n').filter((l) => l.includes('drop'))).toEqual(['    meta l4proto { tcp, udp } th dport 12049 iifname != "lo" drop']);
  });

  it('with nothing exported, the port is closed to everyone but the host', () => {
    const text = hostFilter(2049, []);
    expect(text).not.toContain('saddr');
    expect(text).toContain('meta l4proto { tcp, udp } th dport 2049 iifname != "lo" drop');
  });

  it.skipIf(FAST_TIER)('is valid nft, with and without exports', () => {
    for (const text of [hostFilter(12049, ['240.1.2.3', '240.4.5.6']), hostFilter(2049, [])]) expect(nftCheck(text).status).toBe(0);
  });
});
