/**
 * Writes an instance's identity into its freshly forked root disk before it boots: hostname, machine id, the key
 * pair's public key, the resolver, its SSH host keys (made on the host: ssh-host-keys.ts) and a cloud-init NoCloud
 * seed (meta-data, user-data, and vendor-data installing pcloud's CA) that cloud-init in the image picks up, told to
 * keep those keys. The root comes from an image, which may be imported or made from a tenant's instance: every path
 * goes through rootfs.ts, which never leaves it (a directory that is a link refuses the launch before anything is
 * made). One write at a time.
 */
import { X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { safeDir, safeRemove, safeWrite } from './rootfs.js';
import type { HostKey } from './ssh-host-keys.js';

export { UnsafeImageError } from './rootfs.js';

export interface Seed {
  instanceId: string;
  hostname: string;
  machineId: string;
  /** cloud-init NoCloud meta-data (YAML). */
  metaData: string;
  /** user-data exactly as the user gave it (decoded), or undefined. */
  userData?: Buffer;
  authorizedKeys?: string;
  /** The VPC's DNS server; absent, the image's resolv.conf stays. */
  nameserver?: string;
  searchDomain?: string;
  /** SSH host keys for etc/ssh; absent, the image's own way stays (its first boot makes them). */
  hostKeys?: HostKey[];
  /** CA certificates (PEM) the instance trusts, pcloud's own for its API in the VPC: cloud-init installs them. */
  caCerts?: string[];
}

/** `ca_certs:` cloud-config for these certificates: each parsed, and written as its own PEM (base64 lines only). */
function caCertsYaml(caCerts: readonly string[]): string[] {
  const blocks = caCerts.map((pem) => {
    let x: X509Certificate;
    try {
      x = new X509Certificate(pem);
    } catch {
      throw new Error('a CA certificate for the seed is not a PEM certificate');
    }
    const lines = x.toString().trim().split('\n');
    if (!lines.every((l) => /^(-----(BEGIN|END) CERTIFICATE-----|[A-Za-z0-9+/=]{1,76})$/.test(l))) {
      throw new Error('a CA certificate for the seed is not a plain PEM certificate');
    }
    return ['  - |', ...lines.map((l) => `    ${l}`)].join('\n');
  });
  return ['ca_certs:', '  trusted:', ...blocks];
}

/**
 * The seed's vendor-data: cloud-config that installs the CA certificates system-wide (cloud-init's ca_certs, into the
 * store update-ca-certificates makes, which the AWS CLI and SDKs read). Vendor-data, not user-data: the user's own
 * runs as given, and may turn this off or override it as on any cloud. Nothing but the certificates reaches the file.
 */
export function vendorData(caCerts: readonly string[] = []): string {
  if (!caCerts.length) return '';
  return ['#cloud-config', '# pcloud: trust its CA (the pcloud API in the VPC answers the region\'s service names over TLS)',
    ...caCertsYaml(caCerts), ''].join('\n');
}

/**
 * The same for a VM, whose cloud-init reads the metadata service (the Ec2 datasource has no vendor-data): one kernel
 * command line word, `cc:…end_cc`, which cloud-init reads as configuration (URL-decoded, under user-data's). No space
 * and no `=` in it (the kernel would pass it on to init as an environment variable), nothing but the certificates.
 */
export function kernelCloudConfig(caCerts: readonly string[] = []): string {
  if (!caCerts.length) return '';
  const yaml = caCertsYaml(caCerts).join('\n') + '\n';
  return `cc:${yaml.replace(/[%= \n]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}end_cc`;
}

/** Host key types an image may hold keys of: those the seed makes none of go (a key baked into an image is everyone's). */
const IMAGE_KEY_TYPES = ['rsa', 'dsa', 'ecdsa', 'ed25519'];
const HOST_KEYS_CFG = 'etc/cloud/cloud.cfg.d/99-pcloud-ssh-host-keys.cfg';

export async function writeSeed(root: string, seed: Seed): Promise<void> {
  const seedDir = 'var/lib/cloud/seed/nocloud';
  // Made before anything is written: a certificate that cannot be one refuses the seed whole.
  const vendor = vendorData(seed.caCerts);
  // Every directory first (a refusal then leaves no file written), one at a time.
  await safeDir(root, seedDir);
  await safeDir(root, 'etc/cloud/cloud.cfg.d');
  if (seed.hostKeys) await safeDir(root, 'etc/ssh');
  const ssh = await safeDir(root, 'root/.ssh', 0o700);
  const fh = await open(ssh, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await fh.chmod(0o700);
  } finally {
    await fh.close();
  }
  const files: [string, string | Buffer, number?][] = [
    ['etc/hostname', seed.hostname + '\n'],
    ['etc/machine-id', seed.machineId + '\n'],
    ['etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${seed.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`],
    [`${seedDir}/meta-data`, seed.metaData],
    [`${seedDir}/user-data`, seed.userData ?? Buffer.alloc(0), 0o600],
    [`${seedDir}/vendor-data`, vendor],
    // The host configures eth0 (address, route) before the container starts: cloud-init must not redo it.
    ['etc/cloud/cloud.cfg.d/99-pcloud-network.cfg', 'network: {config: disabled}\n'],
  ];
  if (seed.authorizedKeys) files.push(['root/.ssh/authorized_keys', seed.authorizedKeys.trim() + '\n', 0o600]);
  if (seed.nameserver) files.push(['etc/resolv.conf', `nameserver ${seed.nameserver}\n${seed.searchDomain ? `search ${seed.searchDomain}\n` : ''}`]);
  const keys = seed.hostKeys ?? [];
  for (const key of keys) {
    files.push([`etc/ssh/ssh_host_${key.type}_key`, key.privateKey, 0o600], [`etc/ssh/ssh_host_${key.type}_key.pub`, key.publicKey + '\n']);
  }
  // cloud-init (its ssh module, on a new instance id) would delete them and make its own.
  if (seed.hostKeys) files.push([HOST_KEYS_CFG, 'ssh_deletekeys: false\nssh_genkeytypes: []\n']);
  for (const [rel, data, mode] of files) await safeWrite(root, rel, data, mode);
  if (!seed.authorizedKeys) await safeRemove(root, 'root/.ssh/authorized_keys');
  if (seed.hostKeys) {
    for (const type of IMAGE_KEY_TYPES.filter((t) => !keys.some((k) => k.type === t))) {
      for (const rel of [`etc/ssh/ssh_host_${type}_key`, `etc/ssh/ssh_host_${type}_key.pub`]) await safeRemove(root, rel);
    }
  } else {
    // An image made from an instance keeps its seed's files: without keys of the host's, cloud-init does as it would.
    await safeRemove(root, HOST_KEYS_CFG);
  }
}
