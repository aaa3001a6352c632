/**
 * Writes an instance's identity into its freshly forked root disk before it boots: hostname, machine id, the key
 * pair's public key, and a cloud-init NoCloud seed (meta-data, user-data) that cloud-init in the image picks up.
 */
import { chmod, mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface Seed {
  instanceId: string;
  hostname: string;
  machineId: string;
  /** cloud-init NoCloud meta-data (YAML). */
  metaData: string;
  /** user-data exactly as the user gave it (decoded), or undefined. */
  userData?: Buffer;
  authorizedKeys?: string;
}

export async function writeSeed(root: string, seed: Seed): Promise<void> {
  const p = (rel: string) => join(root, rel);
  const seedDir = p('var/lib/cloud/seed/nocloud');
  await Promise.all([
    mkdir(seedDir, { recursive: true }),
    mkdir(p('root/.ssh'), { recursive: true, mode: 0o700 }),
  ]);
  await Promise.all([
    writeFile(p('etc/hostname'), seed.hostname + '\n'),
    writeFile(p('etc/machine-id'), seed.machineId + '\n'),
    writeFile(p('etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${seed.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`),
    writeFile(join(seedDir, 'meta-data'), seed.metaData),
    writeFile(join(seedDir, 'user-data'), seed.userData ?? Buffer.alloc(0)),
    writeFile(join(seedDir, 'vendor-data'), ''),
    // The host configures eth0 (address, route) before the container starts: cloud-init must not redo it.
    mkdir(p('etc/cloud/cloud.cfg.d'), { recursive: true }).then(() =>
      writeFile(p('etc/cloud/cloud.cfg.d/99-pcloud-network.cfg'), 'network: {config: disabled}\n')),
    seed.authorizedKeys
      ? writeFile(p('root/.ssh/authorized_keys'), seed.authorizedKeys.trim() + '\n', { mode: 0o600 })
      : rm(p('root/.ssh/authorized_keys'), { force: true }),
  ]);
  await chmod(p('root/.ssh'), 0o700);
}
