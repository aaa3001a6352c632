/**
 * Short-lived bearer tokens pcloud issues and checks itself (IMDSv2 tokens, console tokens): a subject and an expiry,
 * HMAC-signed with the purpose's key from the database (signing-keys.ts), so any server on it checks what another
 * issued. No state: a token is valid until it expires.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyPurpose, SigningKeys } from './signing-keys.js';

export class SignedTokens {
  constructor(private readonly keys: SigningKeys, private readonly purpose: KeyPurpose) {}

  /** A token for `subject`, valid for ttlSec seconds. */
  async issue(subject: string, ttlSec: number, now = Date.now()): Promise<string> {
    const body = Buffer.from(JSON.stringify({ i: subject, x: now + ttlSec * 1000, n: randomBytes(6).toString('hex') })).toString('base64url');
    return `${body}.${(await this.mac(body))}`;
  }

  /** Whether the token was issued for `subject` and has not expired. */
  async check(subject: string, token: string, now = Date.now()): Promise<boolean> {
    const [body, sig] = token.split('.');
    if (!body || !sig) return false;
    const want = Buffer.from(await this.mac(body));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return false;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { i?: string; x?: number };
      return claims.i === subject && typeof claims.x === 'number' && claims.x > now;
    } catch {
      return false;
    }
  }

  private async mac(body: string): Promise<string> {
    return createHmac('sha256', await this.keys.get(this.purpose, () => randomBytes(32))).update(body).digest('base64url');
  }
}
