/** SSH public keys in the forms EC2 uses: parse OpenSSH lines, fingerprint them, generate key pairs. */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { CloudError } from './errors.js';

export interface ParsedKey {
  type: 'rsa' | 'ed25519';
  openssh: string;
  fingerprint: string;
}

function sshString(buf: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

function readStrings(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 4 <= blob.length) {
    const len = blob.readUInt32BE(off);
    if (off + 4 + len > blob.length) throw new Error('truncated');
    out.push(blob.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  if (off !== blob.length) throw new Error('trailing bytes');
  return out;
}

/** Parse an OpenSSH public key line (what ImportKeyPair's material decodes to). */
export function parsePublicKey(material: string): ParsedKey {
  const line = material.trim();
  const m = /^(ssh-rsa|ssh-ed25519)\s+([A-Za-z0-9+/=]+)(\s+.*)?$/.exec(line);
  if (!m) {
    throw new CloudError('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
  }
  const blob = Buffer.from(m[2]!, 'base64');
  let parts: Buffer[];
  try {
    parts = readStrings(blob);
  } catch {
    throw new CloudError('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
  }
  if (parts[0]?.toString() !== m[1]) throw new CloudError('InvalidKey.Format', 'Key type does not match key data');
  const type = m[1] === 'ssh-rsa' ? 'rsa' : 'ed25519';
  const fingerprint = type === 'rsa'
    ? createHash('md5').update(blob).digest('hex').replace(/(..)(?!$)/g, '$1:')
    : createHash('sha256').update(blob).digest('base64').replace(/=+$/, '') + '=';
  return { type, openssh: `${m[1]} ${m[2]}`, fingerprint };
}

function mpint(buf: Buffer): Buffer {
  let b = buf;
  while (b.length > 1 && b[0] === 0 && !(b[1]! & 0x80)) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

/** Generate a key pair as CreateKeyPair returns it: the private key PEM and the OpenSSH public line. */
export function generateKeyPair(type: 'rsa' | 'ed25519', comment: string): { privateKey: string; publicKey: string; fingerprint: string } {
  if (type === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const blob = Buffer.concat([
      sshString(Buffer.from('ssh-rsa')),
      mpint(Buffer.from(jwk.e!, 'base64url')),
      mpint(Buffer.from(jwk.n!, 'base64url')),
    ]);
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    return {
      privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString().trim(),
      publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}`,
      // EC2 fingerprints keys it creates by the SHA-1 of the PKCS#8 private key.
      fingerprint: createHash('sha1').update(pkcs8).digest('hex').replace(/(..)(?!$)/g, '$1:'),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pubBlob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([
    check, check,
    sshString(Buffer.from('ssh-ed25519')), sshString(pub), sshString(Buffer.concat([seed, pub])),
    sshString(Buffer.from(comment)),
  ]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from([1, 2, 3, 4, 5, 6, 7].slice(0, pad))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString(Buffer.from('none')), sshString(Buffer.from('none')), sshString(Buffer.alloc(0)),
    Buffer.from([0, 0, 0, 1]), sshString(pubBlob), sshString(priv),
  ]);
  const b64 = body.toString('base64').replace(/(.{70})/g, '$1\n').trim();
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----`,
    publicKey: `ssh-ed25519 ${pubBlob.toString('base64')} ${comment}`,
    fingerprint: createHash('sha256').update(pubBlob).digest('base64').replace(/=+$/, '') + '=',
  };
}

