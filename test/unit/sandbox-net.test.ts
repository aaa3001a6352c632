import { describe, expect, it } from 'vitest';
import { endpointPort, sandboxNetText } from '../../src/host/sandbox-net.js';

describe("the host's filter of Lambda handlers' traffic (sandbox-net.ts)", () => {
  it('sends the sandbox range\'s sockets to a chain that refuses the host\'s own addresses but DNS and the API ports', () => {
    const text = sandboxNetText([4566, 4566, 18739]);
    expect(text).toContain('add element inet pcloud_sandbox api_ports { 4566, 18739 }');
    expect(text).toContain('add rule inet pcloud_sandbox output meta skuid 61184-65519 jump sandboxed');
    const rules = text.split('\n').filter((l) => l.startsWith('add rule inet pcloud_sandbox sandboxed'));
    // The accepts come before the refusals, and every refusal is one.
    const lastAccept = rules.map((l) => l.endsWith('accept')).lastIndexOf(true);
    expect(rules.findIndex((l) => l.includes('reject'))).toBeGreaterThan(lastAccept);
    expect(rules.filter((l) => l.endsWith('accept')).map((l) => l.replace(/.*sandboxed /, ''))).toEqual([
      'fib daddr type local meta l4proto { tcp, udp } th dport 53 accept',
      'fib daddr type local tcp dport @api_ports accept',
      'ip daddr 127.0.0.0/8 meta skuid . tcp dport @own_ports accept',
      'ip daddr 127.0.0.0/8 ct direction reply meta skuid . tcp sport @own_ports accept',
    ]);
    // No conntrack state lets a packet through (another socket may have made it), and broadcast and multicast, which
    // the kernel loops back to the host's sockets, are the host's too.
    expect(text).not.toContain('ct state');
    expect(text).toContain('fib daddr type { local, broadcast, multicast } reject');
    // Each user of the range has its own port, and no other.
    expect(text).toContain('61184 . 61184, 61185 . 61185');
    expect(text).toContain('65519 . 65519 }');
    // The rules are replaced on every write; the ports only ever added (several servers on one host keep theirs).
    expect(text).toContain('flush chain inet pcloud_sandbox sandboxed');
    expect(text).not.toMatch(/flush set|delete/);
    expect(sandboxNetText([])).not.toContain('add element inet pcloud_sandbox api_ports');
  });

  it('refuses anything but a port number (what it writes is nft input)', () => {
    for (const bad of [0, 65536, -1, 1.5, Number.NaN, '53 } ; flush ruleset ; {' as unknown as number]) {
      expect(() => sandboxNetText([bad])).toThrow('not a port');
    }
  });

  it("takes the API's port from the endpoint handlers are given", () => {
    expect(endpointPort('http://127.0.0.1:4566')).toBe(4566);
    expect(endpointPort('https://pcloud.example')).toBe(443);
    expect(endpointPort('http://pcloud.example')).toBe(80);
    expect(endpointPort(undefined)).toBeUndefined();
  });
});
