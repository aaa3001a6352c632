/**
 * What the VPC router is told for route tables, NAT gateways and source/destination checks: the `ip -batch` lines of
 * its policy routing, its NAT table and its security group table, and hostile values refused before any is rendered.
 */
import { describe, expect, it } from 'vitest';
import { firewallText, routerNft } from '../../src/host/network.js';
import { cidr, ip, ownRulePrefs, ownTables, routingLines, type Routing } from '../../src/host/routing.js';
import { HOSTILE, NUL } from '../support/hostile.js';

const routing: Routing = {
  vpcCidr: '10.50.0.0/16',
  tables: [
    { sources: ['10.50.1.0/24'], publicSources: ['10.50.1.4'], routes: [{ destination: '0.0.0.0/0', via: 'internet' }] },
    { sources: ['10.50.2.0/24', '10.50.3.0/24'], publicSources: [], routes: [{ destination: '0.0.0.0/0', via: 'nat', publicIp: '198.51.100.20' }] },
    { sources: ['10.50.4.0/24'], publicSources: [], routes: [{ destination: '198.18.0.0/24', via: 'instance', ip: '10.50.1.9', port: 'v0123456789abcd' }, { destination: '192.0.2.0/24', via: 'blackhole' }] },
  ],
};
const ctx = { uplinkHost: '100.64.0.1', uplinkCidr: '100.64.0.1/32', ext: { cidr: '198.51.100.0/24', gateway: '198.51.100.1' } };

describe('policy routing in the VPC router', () => {
  it('sends each subnet to its table, public instances to the table\'s public twin, and the rest of the VPC nowhere', () => {
    const lines = routingLines(routing, ctx, { rulePrefs: [100, 200, 200, 300], tables: [1000, 1001] });
    // What was there goes first, in the same batch.
    expect(lines.slice(0, 6)).toEqual(['rule del pref 100', 'rule del pref 200', 'rule del pref 200', 'rule del pref 300', 'route flush table 1000', 'route flush table 1001']);
    expect(lines).toContain('rule add to 10.50.0.0/16 lookup main pref 90');
    expect(lines).toContain('rule add to 100.64.0.1/32 lookup main pref 95');
    // Table 0: the internet by the uplink for the subnet, by the macvlan for its public instance.
    expect(lines).toContain('route replace 0.0.0.0/0 via 100.64.0.1 dev uplink onlink table 1000');
    expect(lines).toContain('route replace 0.0.0.0/0 via 198.51.100.1 dev ext onlink table 1001');
    expect(lines).toContain('route replace 198.51.100.0/24 dev ext table 1001');
    // The physical network by the macvlan from the private twin too (where only public sources may leave).
    expect(lines).toContain('route replace 198.51.100.0/24 dev ext table 1000');
    expect(lines).toContain('rule add from 10.50.1.4 lookup 1001 pref 100');
    expect(lines).toContain('rule add from 10.50.1.0/24 lookup 1000 pref 200');
    // Table 1: a public NAT gateway leaves by the macvlan, both twins.
    expect(lines).toContain('route replace 0.0.0.0/0 via 198.51.100.1 dev ext onlink table 1002');
    expect(lines).toContain('rule add from 10.50.2.0/24 lookup 1002 pref 200');
    // (No public twin where the table has no public instance.)
    expect(lines.filter((l) => l.includes('table 1003'))).toEqual([]);
    expect(lines).toContain('rule add from 10.50.3.0/24 lookup 1002 pref 200');
    // Table 2: through an instance's port, and a blackhole.
    expect(lines).toContain('route replace 198.18.0.0/24 via 10.50.1.9 dev v0123456789abcd onlink table 1004');
    expect(lines).toContain('route replace blackhole 192.0.2.0/24 table 1004');
    expect(lines.at(-1)).toBe('rule add from 10.50.0.0/16 unreachable pref 300');
  });

  it('without an external network, the internet and NAT gateways take the uplink', () => {
    const lines = routingLines(routing, { uplinkHost: '100.64.0.1', uplinkCidr: '100.64.0.1/32' }, { rulePrefs: [], tables: [] });
    expect(lines.filter((l) => l.includes('dev ext'))).toEqual([]);
    expect(lines).toContain('route replace 0.0.0.0/0 via 100.64.0.1 dev uplink onlink table 1002');
  });

  it('finds its own rules and tables in ip\'s output, and only those', () => {
    const rules = '0:\tfrom all lookup local\n90:\tfrom all to 10.50.0.0/16 lookup main\n100:\tfrom 10.50.1.4 lookup 1001\n150:\tfrom all lookup 7\n300:\tfrom 10.50.0.0/16 unreachable\n32766:\tfrom all lookup main\n';
    expect(ownRulePrefs(rules)).toEqual([90, 100, 300]);
    const routes = 'default via 100.64.0.1 dev uplink table 1000 onlink\nblackhole 192.0.2.0/24 table 1004\n10.0.0.0/8 dev x table 100\nlocal 127.0.0.1 dev lo table local\n';
    expect(ownTables(routes)).toEqual([1000, 1004]);
  });

  it('refuses anything but addresses, CIDRs and pcloud\'s port names', () => {
    for (const bad of [...Object.values(HOSTILE), NUL, '10.0.0.1\nrule flush', '10.0.0.256', '10.0.0.0/33', '10.0.0.0/8/8', '1.2.3.4; reboot']) {
      expect(() => routingLines({ vpcCidr: bad, tables: [] }, ctx, { rulePrefs: [], tables: [] })).toThrow();
      expect(() => routingLines({ vpcCidr: '10.0.0.0/16', tables: [{ sources: [bad], publicSources: [], routes: [] }] }, ctx, { rulePrefs: [], tables: [] })).toThrow();
      expect(() => routingLines({ vpcCidr: '10.0.0.0/16', tables: [{ sources: ['10.0.1.0/24'], publicSources: [bad], routes: [] }] }, ctx, { rulePrefs: [], tables: [] })).toThrow();
      expect(() => routingLines({ vpcCidr: '10.0.0.0/16', tables: [{ sources: ['10.0.1.0/24'], publicSources: [], routes: [{ destination: '0.0.0.0/0', via: 'instance', ip: '10.0.1.4', port: bad }] }] }, ctx, { rulePrefs: [], tables: [] })).toThrow();
      // (An empty address is no address: that route has no public side, nothing is rendered.)
      if (bad) expect(() => routerNft({ internet: true, external: { parent: 'p', cidr: '198.51.100.0/24', vpcCidr: '10.0.0.0/16', maps: [] }, routing: { vpcCidr: '10.0.0.0/16', tables: [{ sources: ['10.0.1.0/24'], publicSources: [], routes: [{ destination: '0.0.0.0/0', via: 'nat', publicIp: bad }] }] } })).toThrow();
    }
    expect(ip('198.51.100.20')).toBe('198.51.100.20');
    expect(cidr('0.0.0.0/0')).toBe('0.0.0.0/0');
  });
});

describe('NAT gateways in the router\'s NAT table', () => {
  it('SNATs the subnets routed to a NAT gateway to its address on the macvlan, and lets only them and public instances out there', () => {
    const text = routerNft({ internet: true, external: { parent: 'p', cidr: '198.51.100.0/24', vpcCidr: '10.50.0.0/16', maps: [{ publicIp: '198.51.100.10', privateIp: '10.50.1.4' }] }, routing }, '100.64.0.1');
    expect(text).toContain('oifname "ext" ip saddr { 10.50.2.0/24, 10.50.3.0/24 } ip daddr 0.0.0.0/0 snat to 198.51.100.20');
    expect(text).toContain('oifname "ext" ip saddr != { 10.50.1.4, 10.50.2.0/24, 10.50.3.0/24 } drop');
    // The 1:1 pairs come first: a public instance keeps its own address.
    expect(text.indexOf('snat to ip saddr map')).toBeLessThan(text.indexOf('snat to 198.51.100.20'));
  });

  it('without an internet gateway, nothing leaves, NAT gateway or not', () => {
    const text = routerNft({ internet: false, external: { parent: 'p', cidr: '198.51.100.0/24', vpcCidr: '10.50.0.0/16', maps: [] }, routing });
    expect(text).not.toContain('snat to 198.51.100.20');
    expect(text).toContain('oifname "ext" drop');
    expect(text).toContain('oifname "uplink" drop');
  });
});

describe('source/destination check', () => {
  it('on: the port sends only from and receives only for its address; off: the instance may route', () => {
    const text = firewallText([
      { instanceId: 'i-0123456789abcdef0', ip: '10.50.1.4', ingress: [], egress: [] },
      { instanceId: 'i-0fedcba987654321f', ip: '10.50.1.9', ingress: [], egress: [], sourceDestCheck: false },
    ]);
    expect(text).toContain('iifname "v0123456789abcd" ip saddr != 10.50.1.4 drop');
    expect(text).toContain('oifname "v0123456789abcd" ip daddr != 10.50.1.4 drop');
    expect(text).not.toContain('ip saddr != 10.50.1.9');
    expect(text).not.toContain('ip daddr != 10.50.1.9');
  });
});
