import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, parsePublicKey } from '../../src/cloud/sshkeys.js';
import { FAST_TIER } from '../support/tier.js';

describe('SSH keys', () => {
  for (const type of ['rsa', 'ed25519'] as const) {
    it.skipIf(FAST_TIER)(`generates ${type} key pairs that ssh-keygen reads back to the same public key`, () => {
      const kp = generateKeyPair(type, 'test-key');
      const dir = mkdtempSync(join(tmpdir(), 'pcloud-ssh-'));
      const file = join(dir, 'id');
      writeFileSync(file, kp.privateKey + '\n', { mode: 0o600 });
      const pub = execFileSync('ssh-keygen', ['-y', '-f', file]).toString().trim();
      expect(pub.split(' ').slice(0, 2)).toEqual(kp.publicKey.split(' ').slice(0, 2));
      expect(parsePublicKey(kp.publicKey).type).toBe(type);
    });
  }

  it('rejects material that is not an OpenSSH public key', () => {
    expect(() => parsePublicKey('not a key')).toThrow(/OpenSSH/);
    expect(() => parsePublicKey('ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIEcZ8WFkf8dGKhKzDDKv3b7qPTuo/U6lfn4eTdAPowNl')).toThrow(/does not match/);
  });
});
