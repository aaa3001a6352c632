/** The container's command line: its own user namespace always, and a prepared network namespace joined by nsenter. */
import { describe, expect, it } from 'vitest';
import { enterAsRoot, nspawnArgs } from '../../src/host/nspawn.js';

const base = { instanceId: 'i-0123456789abcdef0', rootDir: '/p/instances/i-0123456789abcdef0', hostname: 'ip-172-31-0-4', vcpus: 1, memoryMiB: 512, readyTimeoutSec: 60 };

describe('nspawnArgs', () => {
  for (const register of [false, true]) {
    it(`gives every container a user namespace of its own, the fork idmapped (register=${register})`, () => {
      const args = nspawnArgs({ ...base, register });
      expect(args).toContain('--private-users=pick');
      expect(args).toContain('--private-users-ownership=auto');
      expect(args).toContain(`--register=${register ? 'yes' : 'no'}`);
      expect(args[0]).toBe('systemd-nspawn');
      expect(args).toContain('--private-network');
    });
  }

  it('joins a prepared network namespace through nsenter, never --network-namespace-path (nspawn 252 cannot with a user namespace)', () => {
    const args = nspawnArgs({ ...base, register: false, networkNamespace: '/run/netns/pcloud-i-0123456789abcdef0' });
    expect(args.slice(0, 4)).toEqual(['nsenter', '--net=/run/netns/pcloud-i-0123456789abcdef0', '--', 'systemd-nspawn']);
    expect(args.some((a) => a.startsWith('--network-namespace-path') || a === '--private-network')).toBe(false);
    expect(args).toContain('--private-users=pick');
  });

  it('enters a container as its root: its user namespace, then the others', () => {
    expect(enterAsRoot(4242, ['-m'])).toEqual(['nsenter', '-t', '4242', '-U', '-m', '--']);
  });
});
