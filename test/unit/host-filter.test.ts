/**
 * What instances may reach of the host, as rules (checked by nft itself, `nft -c`, nothing applied): the host's filter
 * on VPC uplinks, and each router port's own source address.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { firewallText, HOST_FILTER } from '../../src/host/network.js';
import { FAST_TIER } from '../support/tier.js';

const nftCheck = (text: string) => spawnSync('nft', ['-c', '-f', '-'], { input: text, encoding: 'utf8' });

describe("the host's filter on VPC uplinks", () => {
  it.skipIf(FAST_TIER)('is valid nft', () => {
    const check = nftCheck(HOST_FILTER);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('drops what comes in from an uplink for the host unless it is for that uplink or answers the host', () => {
    const input = HOST_FILTER.slice(HOST_FILTER.indexOf('chain input'), HOST_FILTER.indexOf('chain forward'));
    const rules = input.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('type') && !l.startsWith('chain') && l !== '}');
    expect(rules).toEqual(['iifname != "pu*" accept', 'ct state established,related accept', 'fib daddr . iif type local accept', 'drop']);
    // One VPC's uplink never forwards into another's.
    expect(HOST_FILTER).toContain('iifname "pu*" oifname "pu*" drop');
  });
});

describe("a router port's source address", () => {
  const text = firewallText([
    { instanceId: 'i-0123456789abcdef0', ingress: [], egress: [{ protocol: '-1', cidrs: ['0.0.0.0/0'] }], ip: '172.31.0.10' },
    { instanceId: 'i-0123456789abcdef1', ingress: [], egress: [] },
  ]);

  it.skipIf(FAST_TIER)('is valid nft', () => {
    const check = nftCheck(text);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('an instance port sends only from its instance address, before its security group chains', () => {
    const spoof = '    iifname "v0123456789abcd" ip saddr != 172.31.0.10 drop';
    expect(text.split('\n')).toContain(spoof);
    expect(text.indexOf(spoof)).toBeLessThan(text.indexOf('iifname "v0123456789abcd" jump out_'));
    // A port without a known address gets no such rule (and its chains still close it by default).
    expect(text).not.toMatch(/saddr != undefined/);
  });
});
