/**
 * Writes an instance's identity into its freshly forked root disk before it boots: hostname, machine id, the key
 * pair's public key, the resolver, and a cloud-init NoCloud seed (meta-data, user-data) that cloud-init in the image
 * picks up. The root comes from an image, which may be imported and untrusted: no path is followed out of it.
 */
import { chmod, lstat, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

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
}

/** A directory inside root, made if missing, refusing any path whose real location is outside root. */
async function safeDir(root: string, rel: string, mode?: number): Promise<string> {
  const path = join(root, rel);
  await mkdir(path, { recursive: true, mode });
  const real = await realpath(path);
  const realRoot = await realpath(root);
  if (relative(realRoot, real).startsWith('..')) throw new Error(`${rel} in the image leads outside its root`);
  return path;
}

/** Replace a file inside root: a symlink in its place is removed, never followed. */
async function safeWrite(root: string, rel: string, data: string | Buffer, mode?: number): Promise<void> {
  const dir = await safeDir(root, dirname(rel));
  const path = join(dir, rel.split('/').pop()!);
  const st = await lstat(path).catch(() => undefined);
  if (st && !st.isFile()) await rm(path, { recursive: true, force: true });
  else if (st) await rm(path, { force: true });
  await writeFile(path, data, { mode, flag: 'wx' });
}

export async function writeSeed(root: string, seed: Seed): Promise<void> {
  const seedDir = 'var/lib/cloud/seed/nocloud';
  await Promise.all([safeDir(root, seedDir), safeDir(root, 'root/.ssh', 0o700), safeDir(root, 'etc/cloud/cloud.cfg.d')]);
  const writes = [
    safeWrite(root, 'etc/hostname', seed.hostname + '\n'),
    safeWrite(root, 'etc/machine-id', seed.machineId + '\n'),
    safeWrite(root, 'etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${seed.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`),
    safeWrite(root, `${seedDir}/meta-data`, seed.metaData),
    safeWrite(root, `${seedDir}/user-data`, seed.userData ?? Buffer.alloc(0)),
    safeWrite(root, `${seedDir}/vendor-data`, ''),
    // The host configures eth0 (address, route) before the container starts: cloud-init must not redo it.
    safeWrite(root, 'etc/cloud/cloud.cfg.d/99-pcloud-network.cfg', 'network: {config: disabled}\n'),
    seed.authorizedKeys
      ? safeWrite(root, 'root/.ssh/authorized_keys', seed.authorizedKeys.trim() + '\n', 0o600)
      : rm(join(root, 'root/.ssh/authorized_keys'), { force: true }),
  ];
  if (seed.nameserver) {
    writes.push(safeWrite(root, 'etc/resolv.conf', `nameserver ${seed.nameserver}\n${seed.searchDomain ? `search ${seed.searchDomain}\n` : ''}`));
  }
  await Promise.all(writes);
  await chmod(join(root, 'root/.ssh'), 0o700);
}
