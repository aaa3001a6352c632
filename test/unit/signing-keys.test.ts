/**
 * Signing keys kept in the database, one row per purpose: every server on one database gets the same key, two
 * starting at once agree, and a key an older pcloud kept in a file under keys/ is taken over rather than replaced.
 */
import { createHmac } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/db/index.js';
import { signingKeys } from '../../src/db/schema.js';
import { SigningKeys } from '../../src/cloud/signing-keys.js';
import { SignedTokens } from '../../src/cloud/tokens.js';
import { Cloud } from '../../src/cloud/index.js';
import type { Instance } from '../../src/cloud/instances/index.js';
import { fakeHost } from '../support/fake-host.js';

const dirs: string[] = [];
const dbs: Db[] = [];

afterEach(() => {
  for (const db of dbs.splice(0)) db.$client.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pcloud-keys-'));
  dirs.push(d);
  return d;
}

/** A connection to the state database in `dir`, as each server opens its own. */
function connect(dir: string): Db {
  const db = openDb(join(dir, 'pcloud.db'));
  dbs.push(db);
  return db;
}

const never = (): Buffer => {
  throw new Error('no key should be made');
};

describe('signing keys', () => {
  it('makes a key once, in the table, and a second server on the same database reads that one', async () => {
    const dir = tempDir();
    const a = new SigningKeys(connect(dir), join(dir, 'keys'));
    const key = await a.get('imds-token', () => Buffer.from('key-of-a'));
    expect(key.toString()).toBe('key-of-a');
    expect((await a.get('imds-token', never)).toString()).toBe('key-of-a');

    const b = new SigningKeys(connect(dir), join(tempDir(), 'keys'));
    expect((await b.get('imds-token', never)).toString()).toBe('key-of-a');
    // Another purpose is another key.
    expect((await b.get('console-token', () => Buffer.from('console'))).toString()).toBe('console');
    // Nothing written under keys/ any more.
    expect(existsSync(join(dir, 'keys'))).toBe(false);
  });

  it('two servers making the key at once agree on the one stored first', async () => {
    const dir = tempDir();
    const a = new SigningKeys(connect(dir));
    const b = new SigningKeys(connect(dir));
    // B stores its key while A is making its own: A's offer loses, and A signs with B's.
    const got = await a.get('console-token', async () => {
          expect((await b.get('console-token', () => Buffer.from('key-of-b'))).toString()).toBe('key-of-b');
      return Buffer.from('key-of-a');
    });
    expect(got.toString()).toBe('key-of-b');
    const rows = await connect(dir).select().from(signingKeys);
    expect(rows.map((r) => [r.name, Buffer.from(r.key, 'base64').toString()])).toEqual([['console-token', 'key-of-b']]);
  });

  it("takes over the key file an older pcloud kept (tokens it issued stay valid), and leaves the file as it was", async () => {
    const dir = tempDir();
    const keysDir = join(dir, 'keys');
    mkdirSync(keysDir);
    writeFileSync(join(keysDir, 'imds-token.key'), Buffer.from('old-file-key'));
    const before = new SigningKeys(connect(tempDir()), keysDir);
    const old = await new SignedTokens(before, 'imds-token').issue('i-0123456789abcdef0', 60);

    const after = new SignedTokens(new SigningKeys(connect(dir), keysDir), 'imds-token');
    expect(await after.check('i-0123456789abcdef0', old)).toBe(true);
    const row = (await connect(dir).select().from(signingKeys))[0]!;
    expect(row).toMatchObject({ name: 'imds-token' });
    expect(Buffer.from(row.key, 'base64').toString()).toBe('old-file-key');
    expect(readFileSync(join(keysDir, 'imds-token.key')).toString()).toBe('old-file-key');

    // Once in the table, the row is the key: another data dir's old file does not replace it.
    const otherKeys = join(tempDir(), 'keys');
    mkdirSync(otherKeys);
    writeFileSync(join(otherKeys, 'imds-token.key'), 'another-old-key');
    expect((await new SigningKeys(connect(dir), otherKeys).get('imds-token', never)).toString()).toBe('old-file-key');
  });

  it('takes over the identity key and certificate only as a pair, and an empty file as no key', async () => {
    const dir = tempDir();
    const keysDir = join(dir, 'keys');
    mkdirSync(keysDir);
    writeFileSync(join(keysDir, 'identity.key.pem'), 'KEY PEM');
    // The certificate missing: the old key alone is no identity (its certificate would not match a new one).
    expect((await new SigningKeys(connect(tempDir()), keysDir).get('imds-identity', () => Buffer.from('fresh'))).toString()).toBe('fresh');
    writeFileSync(join(keysDir, 'identity.crt.pem'), 'CERT PEM');
    expect(JSON.parse((await new SigningKeys(connect(dir), keysDir).get('imds-identity', never)).toString())).toEqual({ key: 'KEY PEM', cert: 'CERT PEM' });

    writeFileSync(join(keysDir, 'console-token.key'), '');
    expect((await new SigningKeys(connect(tempDir()), keysDir).get('console-token', () => Buffer.from('made'))).toString()).toBe('made');
    await expect(new SigningKeys(connect(tempDir())).get('console-token', () => Buffer.alloc(0))).rejects.toThrow(/empty/);
  });
});

describe('an old key file', () => {
  it('is taken over only if pcloud could have made it: not a link, nor a file others may write', async () => {
    const keysDir = join(tempDir(), 'keys');
    mkdirSync(keysDir);
    const file = join(keysDir, 'console-token.key');
    writeFileSync(file, 'planted');
    chmodSync(file, 0o666);
    expect((await new SigningKeys(connect(tempDir()), keysDir).get('console-token', () => Buffer.from('made'))).toString()).toBe('made');
    chmodSync(file, 0o620);
    expect((await new SigningKeys(connect(tempDir()), keysDir).get('console-token', () => Buffer.from('made'))).toString()).toBe('made');
    rmSync(file);
    const elsewhere = join(tempDir(), 'somebody-elses');
    writeFileSync(elsewhere, 'linked', { mode: 0o600 });
    symlinkSync(elsewhere, file);
    expect((await new SigningKeys(connect(tempDir()), keysDir).get('console-token', () => Buffer.from('made'))).toString()).toBe('made');
    rmSync(file);
    writeFileSync(file, 'own', { mode: 0o600 });
    expect((await new SigningKeys(connect(tempDir()), keysDir).get('console-token', never)).toString()).toBe('own');
  });
});

describe('signed tokens across servers', () => {
  it("one server's token checks on another on the same database, for its subject only; another database's key, a forged or an expired one does not", async () => {
    const dir = tempDir();
    const a = new SignedTokens(new SigningKeys(connect(dir)), 'imds-token');
    const b = new SignedTokens(new SigningKeys(connect(dir)), 'imds-token');
    const now = Date.now();
    const token = await a.issue('i-0123456789abcdef0', 60, now);
    expect(await b.check('i-0123456789abcdef0', token, now)).toBe(true);
    expect(await b.check('i-0fedcba9876543210', token, now)).toBe(false);
    expect(await b.check('i-0123456789abcdef0', token, now + 61_000)).toBe(false);

    // Same purpose name on another database: another key.
    const elsewhere = new SignedTokens(new SigningKeys(connect(tempDir())), 'imds-token');
    expect(await elsewhere.check('i-0123456789abcdef0', token, now)).toBe(false);
    expect(await b.check('i-0123456789abcdef0', await elsewhere.issue('i-0123456789abcdef0', 60, now), now)).toBe(false);
    // Another purpose's key on the same database (a console token is no IMDS token).
    const consoles = new SignedTokens(new SigningKeys(connect(dir)), 'console-token');
    expect(await b.check('i-0123456789abcdef0', await consoles.issue('i-0123456789abcdef0', 60, now), now)).toBe(false);
    // A body rewritten (a longer expiry, another subject) under the old signature.
    const [, sig] = token.split('.');
    const body = Buffer.from(JSON.stringify({ i: 'i-0123456789abcdef0', x: now + 86_400_000, n: 'aaaaaaaaaaaa' })).toString('base64url');
    expect(await b.check('i-0123456789abcdef0', `${body}.${sig}`, now)).toBe(false);
    expect(await b.check('i-0123456789abcdef0', '', now)).toBe(false);
    expect(await b.check('i-0123456789abcdef0', 'a.b.c', now)).toBe(false);
  });
});

describe('upgrading a data dir whose keys were files', () => {
  it('an IMDS token and a console token signed with the old files stay good, each for its own purpose', async () => {
    const dataDir = tempDir();
    const keysDir = join(dataDir, 'keys');
    mkdirSync(keysDir);
    const imdsKey = Buffer.from('0123456789abcdef0123456789abcdef');
    const consoleKey = Buffer.from('fedcba9876543210fedcba9876543210');
    writeFileSync(join(keysDir, 'imds-token.key'), imdsKey);
    writeFileSync(join(keysDir, 'console-token.key'), consoleKey);
    // Tokens as the older pcloud made them: a body and its HMAC-SHA256 with the file's key.
    const old = (key: Buffer, subject: string) => {
      const body = Buffer.from(JSON.stringify({ i: subject, x: Date.now() + 60_000, n: 'a1b2c3d4e5f6' })).toString('base64url');
      return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
    };
    const cloud = await Cloud.open({ dataDir, host: (await fakeHost()).host });
    try {
      const inst = { id: 'i-0123456789abcdef0' } as Instance;
      expect(await cloud.metadata.checkToken(inst, old(imdsKey, inst.id))).toBe(true);
      expect(await cloud.metadata.checkToken(inst, old(consoleKey, inst.id))).toBe(false);
      // consoles.check asks nothing of the instance: the token alone says whose it is.
      expect(await cloud.consoles.check(old(consoleKey, '111111111111/i-0123456789abcdef0'), 'i-0123456789abcdef0')).toBe('111111111111');
      expect(await cloud.consoles.check(old(imdsKey, '111111111111/i-0123456789abcdef0'), 'i-0123456789abcdef0')).toBeUndefined();
      expect((await cloud.db.select({ name: signingKeys.name }).from(signingKeys)).map((r) => r.name).sort()).toEqual(['console-token', 'imds-token']);
    } finally {
      await cloud.close();
    }
  });
});
