/** The container's command line: its own user namespace always, and a prepared network namespace joined by nsenter. */
import { describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerExec, containerSockets, enterAsRoot, guestProtocol, nspawnArgs } from '../../src/host/nspawn.js';

const base = { instanceId: 'i-0123456789abcdef0', rootDir: '/p/instances/i-0123456789abcdef0', hostname: 'ip-172-31-0-4', vcpus: 1, memoryMiB: 512, readyTimeoutSec: 60, runDir: '/var/lib/pcloud/run', guestProtocol: false };

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

  it('binds the guest\'s socket at /run/pcloud/notify only for an image that speaks the protocol', () => {
    const socks = containerSockets(base.runDir, base.instanceId);
    expect(containerExec({ ...base, register: false }).filter((a) => a.startsWith('--bind'))).toEqual([]);
    expect(containerExec({ ...base, register: false, guestProtocol: true })).toContain(`--bind=${socks.guest}:/run/pcloud/notify`);
    expect(() => containerSockets('/var/lib/a:b/run', base.instanceId)).toThrow(/cannot be bound/);
  });

  it('runs nspawn under container-ready.js, which is given its sockets (the guest\'s only with the protocol)', () => {
    const socks = containerSockets(base.runDir, base.instanceId);
    const legacy = containerExec({ ...base, register: false });
    expect(legacy[1]).toMatch(/\/dist\/src\/host\/container-ready\.js$/);
    expect(legacy.slice(2, legacy.indexOf('--'))).toEqual(['--notify', socks.notify]);
    expect(legacy.slice(legacy.indexOf('--') + 1)).toEqual(nspawnArgs({ ...base, register: false }));
    expect(legacy.slice(legacy.indexOf('--') + 1)[0]).toBe('systemd-nspawn');
    const speaks = containerExec({ ...base, register: false, guestProtocol: true });
    expect(speaks.slice(2, speaks.indexOf('--'))).toEqual(['--notify', socks.notify, '--guest', socks.guest]);
  });
});

describe('guestProtocol', () => {
  it('is the file /etc/pcloud/guest-protocol saying 1, never read through a link', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pcloud-gp-'));
    try {
      const root = join(dir, 'root');
      await mkdir(join(root, 'etc/pcloud'), { recursive: true });
      expect(await guestProtocol(root)).toBe(false);
      await writeFile(join(root, 'etc/pcloud/guest-protocol'), '1\n');
      expect(await guestProtocol(root)).toBe(true);
      await writeFile(join(root, 'etc/pcloud/guest-protocol'), '2\n');
      expect(await guestProtocol(root)).toBe(false);
      await writeFile(join(dir, 'host-file'), '1\n');
      await rm(join(root, 'etc/pcloud/guest-protocol'));
      await symlink(join(dir, 'host-file'), join(root, 'etc/pcloud/guest-protocol'));
      expect(await guestProtocol(root)).toBe(false);
      await rm(join(root, 'etc/pcloud'), { recursive: true });
      await symlink(dir, join(root, 'etc/pcloud'));
      await rm(join(dir, 'host-file'));
      await writeFile(join(dir, 'guest-protocol'), '1\n');
      expect(await guestProtocol(root)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
