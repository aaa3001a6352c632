/**
 * Short-lived bearer tokens pcloud issues and checks itself (IMDSv2 tokens, console tokens): a subject and an expiry,
 * HMAC-signed with a key kept in DATA/keys. No state: a token is valid until it expires.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A secret kept in a file of keyDir, made once (mode 0600, written atomically). */
export function keyFile(keyDir: string, name: string, make: () => Buffer): Buffer {
  const file = join(keyDir, name);
  if (existsSync(file)) return readFileSync(file);
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  const value = make();
  writeFileSync(`${file}.tmp`, value, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return value;
}

export class SignedTokens {
  private key?: Buffer;

  constructor(private readonly keyDir: string, private readonly keyName: string) {}

  /** A token for `subject`, valid for ttlSec seconds. */
  issue(subject: string, ttlSec: number, now = Date.now()): string {
    const body = Buffer.from(JSON.stringify({ i: subject, x: now + ttlSec * 1000, n: randomBytes(6).toString('hex') })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** Whether the token was issued for `subject` and has not expired. */
  check(subject: string, token: string, now = Date.now()): boolean {
    const [body, sig] = token.split('.');
    if (!body || !sig) return false;
    const want = Buffer.from(this.mac(body));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return false;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { i?: string; x?: number };
      return claims.i === subject && typeof claims.x === 'number' && claims.x > now;
    } catch {
      return false;
    }
  }

  private mac(body: string): string {
    this.key ??= keyFile(this.keyDir, this.keyName, () => randomBytes(32));
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
