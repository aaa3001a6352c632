/**
 * An instance's SSH host keys, made on the host while its root disk is forked and its network attached (seed.ts
 * writes them into the fork), so its sshd accepts as soon as it starts and nothing in the guest spends its boot on
 * them. ed25519 and ecdsa (P-256): milliseconds each with ssh-keygen; no RSA key (a second of CPU, and every client
 * pcloud serves speaks ed25519 or ecdsa). ssh-keygen writes only to files: each pair is made in a private directory
 * of its own under `tmpParent` (the data dir's run dir), read back and removed.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';

export const HOST_KEY_TYPES = ['ed25519', 'ecdsa'] as const;
export type HostKeyType = typeof HOST_KEY_TYPES[number];

export interface HostKey {
  type: HostKeyType;
  /** The private key file as ssh-keygen wrote it (OpenSSH format, no passphrase). */
  privateKey: Buffer;
  /** The public key line. */
  publicKey: string;
}

async function makeKey(tmpParent: string, type: HostKeyType, comment: string): Promise<HostKey> {
  // mkdtemp makes it 0700: the private key is never readable by another host user, even for the moment it is there.
  await mkdir(tmpParent, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(tmpParent, '.ssh-host-key-'));
  try {
    const file = join(dir, 'key');
    await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', comment, '-f', file]);
    const [privateKey, publicKey] = await Promise.all([readFile(file), readFile(`${file}.pub`, 'utf8')]);
    return { type, privateKey, publicKey: publicKey.trim() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A new pair of each type, made at once; `comment` is the public keys' (root@HOSTNAME, as ssh-keygen -A writes). */
export function makeSshHostKeys(tmpParent: string, comment: string): Promise<HostKey[]> {
  return Promise.all(HOST_KEY_TYPES.map((type) => makeKey(tmpParent, type, comment)));
}
