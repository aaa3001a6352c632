/**
 * The seed written into a fork never reaches outside it: a fake image root in a temp dir whose var/lib/cloud, root,
 * root/.ssh, etc/cloud (directories) or etc/hostname, etc/resolv.conf, authorized_keys (files) are links to a
 * directory beside it ("the host"). The host side is compared, entry by entry (names, modes, contents), before and
 * after.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { kernelCloudConfig, UnsafeImageError, vendorData, writeSeed, type Seed } from '../../src/host/seed.js';
import { PcloudCa } from '../../src/host/tls.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { FAST_TIER } from '../support/tier.js';

let base: string;
let root: string;
let host: string;

const seed: Seed = {
  instanceId: 'i-0123456789abcdef0', hostname: 'ip-172-31-0-10', machineId: '0123456789abcdef0123456789abcdef',
  metaData: 'instance-id: i-0123456789abcdef0\n', userData: Buffer.from('#!/bin/sh\necho hi\n'),
  authorizedKeys: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostile key\n', nameserver: '172.31.0.2', searchDomain: 'ec2.internal',
};

/** Every entry under dir: its kind, mode and contents (or link target). */
function tree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = lstatSync(path);
    const key = `${prefix}${name}`;
    if (st.isSymbolicLink()) out[key] = `link ${readlinkSync(path)}`;
    else if (st.isDirectory()) Object.assign(out, { [key]: `dir ${(st.mode & 0o7777).toString(8)}` }, tree(path, `${key}/`));
    else out[key] = `file ${(st.mode & 0o7777).toString(8)} ${readFileSync(path, 'utf8')}`;
  }
  return out;
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'pcloud-seed-'));
  root = join(base, 'root');
  host = join(base, 'host');
  for (const d of ['etc', 'var/lib', 'root']) mkdirSync(join(root, d), { recursive: true });
  for (const d of ['etc/cloud', 'lib/cloud', 'home/.ssh']) mkdirSync(join(host, d), { recursive: true, mode: 0o755 });
  writeFileSync(join(host, 'etc/hostname'), 'the-host\n');
  writeFileSync(join(host, 'etc/resolv.conf'), 'nameserver 192.0.2.53\n');
  writeFileSync(join(host, 'home/.ssh/authorized_keys'), 'ssh-ed25519 AAAA host-admin\n', { mode: 0o600 });
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('writeSeed', () => {
  it('writes the identity and the NoCloud seed into a plain root, with the modes asked for', async () => {
    await writeSeed(root, seed);
    const t = tree(root);
    expect(t['etc/hostname']).toBe('file 644 ip-172-31-0-10\n');
    expect(t['etc/machine-id']).toBe('file 644 0123456789abcdef0123456789abcdef\n');
    expect(t['etc/resolv.conf']).toBe('file 644 nameserver 172.31.0.2\nsearch ec2.internal\n');
    expect(t['var/lib/cloud/seed/nocloud/meta-data']).toBe('file 644 instance-id: i-0123456789abcdef0\n');
    expect(t['var/lib/cloud/seed/nocloud/user-data']).toBe('file 600 #!/bin/sh\necho hi\n');
    expect(t['etc/cloud/cloud.cfg.d/99-pcloud-network.cfg']).toBe('file 644 network: {config: disabled}\n');
    expect(t['root/.ssh']).toBe('dir 700');
    expect(t['root/.ssh/authorized_keys']).toBe('file 600 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostile key\n');
    // Without a key, one left in the image is removed.
    await writeSeed(root, { ...seed, authorizedKeys: undefined });
    expect(tree(root)['root/.ssh/authorized_keys']).toBeUndefined();
  });

  it('replaces files that are links out of the root by files of its own; the files they pointed at are untouched', async () => {
    symlinkSync(join(host, 'etc/hostname'), join(root, 'etc/hostname'));
    symlinkSync('../../host/etc/resolv.conf', join(root, 'etc/resolv.conf'));
    mkdirSync(join(root, 'root/.ssh'));
    symlinkSync(join(host, 'home/.ssh/authorized_keys'), join(root, 'root/.ssh/authorized_keys'));
    // A link to a directory where a file goes, and a dangling one where the machine id goes.
    symlinkSync(join(host, 'lib/cloud'), join(root, 'etc/hosts'));
    symlinkSync(join(host, 'new-file'), join(root, 'etc/machine-id'));
    const before = tree(host);
    await writeSeed(root, seed);
    expect(tree(host)).toEqual(before);
    const t = tree(root);
    expect(t['etc/hostname']).toBe('file 644 ip-172-31-0-10\n');
    expect(t['etc/resolv.conf']).toBe('file 644 nameserver 172.31.0.2\nsearch ec2.internal\n');
    expect(t['etc/hosts']).toMatch(/^file 644 127\.0\.0\.1/);
    expect(t['etc/machine-id']).toBe('file 644 0123456789abcdef0123456789abcdef\n');
    expect(t['root/.ssh/authorized_keys']).toMatch(/^file 600 ssh-ed25519 AAAAC3/);
  });

  it('without a key, an authorized_keys that is a link is unlinked, never its target', async () => {
    mkdirSync(join(root, 'root/.ssh'));
    symlinkSync(join(host, 'home/.ssh/authorized_keys'), join(root, 'root/.ssh/authorized_keys'));
    const before = tree(host);
    await writeSeed(root, { ...seed, authorizedKeys: undefined });
    expect(tree(host)).toEqual(before);
    expect(tree(root)['root/.ssh/authorized_keys']).toBeUndefined();
  });

  const links: [string, string, string][] = [
    ['var/lib/cloud', 'lib/cloud', 'var/lib/cloud'],
    ['root (absolute)', 'home', 'root'],
    ['root/.ssh', 'home/.ssh', 'root/.ssh'],
    ['etc/cloud', 'etc/cloud', 'etc/cloud'],
    ['var (relative, climbing out)', '../../host/lib', 'var'],
  ];
  for (const [what, target, at] of links) {
    it(`refuses an image whose ${what} is a link out of it, creating and writing nothing there`, async () => {
      rmSync(join(root, at), { recursive: true, force: true });
      symlinkSync(target.startsWith('..') ? target : join(host, target), join(root, at));
      const before = tree(host);
      const err = await writeSeed(root, seed).catch((e: Error) => e);
      expect(err).toBeInstanceOf(UnsafeImageError);
      expect((err as Error).message).toContain(`/${at.split(' ')[0]} is a symbolic link`);
      expect((err as Error).message).not.toContain(base); // no host path in what the user reads
      expect(tree(host)).toEqual(before);
      // The link itself is left as the image had it, and no file was written anywhere.
      expect(lstatSync(join(root, at)).isSymbolicLink()).toBe(true);
      expect(Object.entries(tree(root)).filter(([, v]) => v.startsWith('file'))).toEqual([]);
    });
  }

  it('refuses a file where a directory goes', async () => {
    rmSync(join(root, 'root'), { recursive: true });
    writeFileSync(join(root, 'root'), 'not a directory');
    await expect(writeSeed(root, seed)).rejects.toThrow(/\/root is not a directory/);
    expect(statSync(join(root, 'root')).isFile()).toBe(true);
  });
});

/** PyYAML, the parser cloud-init reads configuration with (on hosts that have it: python3-yaml; else those checks skip). */
const PYYAML = !FAST_TIER && spawnSync('python3', ['-c', 'import yaml']).status === 0;

describe('vendor-data: pcloud\'s CA for cloud-init', () => {
  const caDir = () => mkdtempSync(join(tmpdir(), 'pcloud-seed-ca-'));

  it('is empty without certificates; with one, cloud-config whose ca_certs.trusted is exactly that certificate', async () => {
    expect(vendorData()).toBe('');
    const dir = caDir();
    try {
      const pem = new PcloudCa(dir).certificate();
      const text = vendorData([pem]);
      expect(text.startsWith('#cloud-config\n')).toBe(true);
      expect(text).toContain(`ca_certs:\n  trusted:\n  - |\n    -----BEGIN CERTIFICATE-----\n    ${new X509Certificate(pem).toString().split('\n')[1]}\n`);
      await writeSeed(root, { ...seed, caCerts: [pem] });
      expect(tree(root)['var/lib/cloud/seed/nocloud/vendor-data']).toBe(`file 644 ${text}`);
      // The user's own user-data is still the user's, as given.
      expect(tree(root)['var/lib/cloud/seed/nocloud/user-data']).toBe('file 600 #!/bin/sh\necho hi\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!PYYAML)('is read by a YAML parser (as cloud-init reads it) as exactly the certificate', () => {
    const dir = caDir();
    try {
      const pem = new PcloudCa(dir).certificate();
      const parsed = spawnSync('python3', ['-c', 'import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())))'],
        { input: vendorData([pem, pem]), encoding: 'utf8' });
      expect(parsed.status).toBe(0);
      const want = new X509Certificate(pem).toString().trim() + '\n';
      expect(JSON.parse(parsed.stdout)).toEqual({ ca_certs: { trusted: [want, want] } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses anything that is not a certificate, writing nothing', async () => {
    const dir = caDir();
    try {
      const pem = new PcloudCa(dir).certificate();
      for (const bad of [...Object.values(HOSTILE), NUL, `${pem}\nruncmd: [id]`.replace('-----END', 'x\n-----END'), 'runcmd: [id]']) {
        expect(() => vendorData([bad])).toThrow(/not a (plain )?PEM certificate/);
      }
      // Text around a certificate is not carried over: only the certificate's own PEM is written.
      expect(vendorData([`${pem}\nruncmd: [reboot]\n`])).toBe(vendorData([pem]));
      await expect(writeSeed(root, { ...seed, caCerts: ['runcmd: [id]'] })).rejects.toThrow(/not a PEM certificate/);
      expect(tree(root)['var/lib/cloud/seed/nocloud/meta-data']).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kernelCloudConfig: pcloud\'s CA for a VM\'s cloud-init', () => {
  it('is one word of the kernel command line (no space, no =), short enough to fit beside the rest', () => {
    expect(kernelCloudConfig()).toBe('');
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-seed-ca-'));
    try {
      const word = kernelCloudConfig([new PcloudCa(dir).certificate()]);
      expect(word).toMatch(/^cc:[A-Za-z0-9%+/:_|-]+end_cc$/);
      expect(word).not.toMatch(/[ =]/);
      // The kernel's command line is 2048 bytes at most on x86; a microvm's own words take about 250.
      expect(word.length).toBeLessThan(1600);
      expect(() => kernelCloudConfig(['cc: runcmd end_cc'])).toThrow(/not a PEM certificate/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!PYYAML)('reads back, as cloud-init reads a command line (unquote, YAML), as exactly the certificate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-seed-ca-'));
    try {
      const pem = new PcloudCa(dir).certificate();
      const cmdline = `console=ttyS0 quiet ci.ds=Ec2 ${kernelCloudConfig([pem])}`;
      // cloud-init's read_cc_from_cmdline: from "cc:" to "end_cc", URL-unquoted, then YAML.
      const py = `import sys, json, yaml
from urllib import parse
c = sys.stdin.read(); b = c.find('cc:'); e = c.find('end_cc', b + 3)
print(json.dumps(yaml.safe_load(parse.unquote(c[b + 3:e].lstrip()).replace('\\\\n', '\\n'))))`;
      const parsed = spawnSync('python3', ['-c', py], { input: cmdline, encoding: 'utf8' });
      expect(parsed.status, parsed.stderr).toBe(0);
      expect(JSON.parse(parsed.stdout)).toEqual({ ca_certs: { trusted: [new X509Certificate(pem).toString().trim() + '\n'] } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
