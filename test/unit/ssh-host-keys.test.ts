/**
 * An instance's SSH host keys made on the host (ssh-host-keys.ts, with the host's ssh-keygen) and written into its
 * fork by the seed: the types, the files' modes, the private key matching the public one, nothing left in the temp
 * parent, and no link in the image followed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSshHostKeys } from '../../src/host/ssh-host-keys.js';
import { UnsafeImageError, writeSeed, type Seed } from '../../src/host/seed.js';

let base: string;
let root: string;
let tmp: string;
let host: string;

const seed: Seed = {
  instanceId: 'i-0123456789abcdef0', hostname: 'ip-172-31-0-10', machineId: '0123456789abcdef0123456789abcdef',
  metaData: 'instance-id: i-0123456789abcdef0\n',
};

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'pcloud-hostkeys-'));
  root = join(base, 'root');
  tmp = join(base, 'run');
  host = join(base, 'host');
  mkdirSync(join(root, 'etc/ssh'), { recursive: true });
  mkdirSync(host);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const mode = (path: string) => (lstatSync(path).mode & 0o7777).toString(8);

describe('makeSshHostKeys', () => {
  it('makes one ed25519 and one ecdsa pair, each private key the public key\'s, and leaves nothing behind', async () => {
    const keys = await makeSshHostKeys(tmp, 'root@ip-172-31-0-10');
    expect(keys.map((k) => k.type)).toEqual(['ed25519', 'ecdsa']);
    expect(keys[0]!.publicKey).toMatch(/^ssh-ed25519 AAAA\S+ root@ip-172-31-0-10$/);
    expect(keys[1]!.publicKey).toMatch(/^ecdsa-sha2-nistp256 AAAA\S+ root@ip-172-31-0-10$/);
    expect(readdirSync(tmp)).toEqual([]);
    for (const key of keys) {
      expect(key.privateKey.toString()).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
      const file = join(base, `k-${key.type}`);
      writeFileSync(file, key.privateKey, { mode: 0o600 });
      // ssh-keygen -y derives the public key (and comment) from the private one.
      expect(execFileSync('ssh-keygen', ['-y', '-f', file]).toString().trim()).toBe(key.publicKey);
    }
    // Two launches never share a key.
    const again = await makeSshHostKeys(tmp, 'root@ip-172-31-0-10');
    expect(again[0]!.publicKey).not.toBe(keys[0]!.publicKey);
  });
});

describe('writeSeed with host keys', () => {
  it('writes the keys root-only (public ones readable), replaces the image\'s, and tells cloud-init to keep them', async () => {
    for (const t of ['rsa', 'ed25519']) {
      writeFileSync(join(root, `etc/ssh/ssh_host_${t}_key`), 'baked into the image', { mode: 0o600 });
      writeFileSync(join(root, `etc/ssh/ssh_host_${t}_key.pub`), 'baked into the image');
    }
    const hostKeys = await makeSshHostKeys(tmp, 'root@ip-172-31-0-10');
    await writeSeed(root, { ...seed, hostKeys });
    expect(readdirSync(join(root, 'etc/ssh')).sort()).toEqual([
      'ssh_host_ecdsa_key', 'ssh_host_ecdsa_key.pub', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
    for (const key of hostKeys) {
      const file = join(root, `etc/ssh/ssh_host_${key.type}_key`);
      expect(mode(file)).toBe('600');
      expect(mode(`${file}.pub`)).toBe('644');
      expect(readFileSync(file)).toEqual(key.privateKey);
      expect(readFileSync(`${file}.pub`, 'utf8')).toBe(key.publicKey + '\n');
    }
    expect(readFileSync(join(root, 'etc/cloud/cloud.cfg.d/99-pcloud-ssh-host-keys.cfg'), 'utf8'))
      .toBe('ssh_deletekeys: false\nssh_genkeytypes: []\n');
    // Launched again without host keys (an image made from this instance), cloud-init goes its own way again.
    await writeSeed(root, seed);
    expect(readdirSync(join(root, 'etc/cloud/cloud.cfg.d'))).toEqual(['99-pcloud-network.cfg']);
  });

  it('replaces key files that are links out of the root by files of its own; the files they pointed at are untouched', async () => {
    writeFileSync(join(host, 'secret'), 'the host\'s own key\n', { mode: 0o600 });
    symlinkSync(join(host, 'secret'), join(root, 'etc/ssh/ssh_host_ed25519_key'));
    symlinkSync(join(host, 'secret'), join(root, 'etc/ssh/ssh_host_rsa_key'));
    symlinkSync(join(host, 'new-file'), join(root, 'etc/ssh/ssh_host_ecdsa_key.pub'));
    const hostKeys = await makeSshHostKeys(tmp, 'root@x');
    await writeSeed(root, { ...seed, hostKeys });
    expect(readdirSync(host)).toEqual(['secret']);
    expect(readFileSync(join(host, 'secret'), 'utf8')).toBe('the host\'s own key\n');
    expect(lstatSync(join(root, 'etc/ssh/ssh_host_ed25519_key')).isFile()).toBe(true);
    expect(readFileSync(join(root, 'etc/ssh/ssh_host_ed25519_key'))).toEqual(hostKeys[0]!.privateKey);
    expect(lstatSync(join(root, 'etc/ssh/ssh_host_ecdsa_key.pub')).isFile()).toBe(true);
    // The link where no key is written is removed, never followed.
    expect(readdirSync(join(root, 'etc/ssh'))).not.toContain('ssh_host_rsa_key');
  });

  it('refuses an image whose etc/ssh is a link out of it, writing nothing', async () => {
    rmSync(join(root, 'etc/ssh'), { recursive: true });
    symlinkSync(host, join(root, 'etc/ssh'));
    const hostKeys = await makeSshHostKeys(tmp, 'root@x');
    const err = await writeSeed(root, { ...seed, hostKeys }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnsafeImageError);
    expect((err as Error).message).toContain('/etc/ssh is a symbolic link');
    expect(readdirSync(host)).toEqual([]);
    expect(() => lstatSync(join(root, 'etc/hostname'))).toThrow();
  });
});
