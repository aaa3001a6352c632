/**
 * Joining hosts (issue 17): `pcloud host token` on the control plane issues a token, good once until it expires;
 * `pcloud host join --control URL --token T` on the new machine redeems it (the control plane's /pcloud/hosts/join)
 * for what a host needs to serve: the state database's URL, its zone, and a host key it shows the control plane
 * afterwards (fetching images). Only sha256 hashes of tokens and keys are stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull, lt } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { write } from '../../db/store.js';
import { hosts, hostTokens } from '../../db/tables.js';
import type { HostsConfig } from '../config.js';
import { newId } from '../ids.js';
import { heard } from './liveness.js';
import { freeRemovedName } from './operate.js';

const TOKEN_PREFIX = 'pcloud-join-';
const KEY_PREFIX = 'pcloud-host-';
/** A token's own characters: base64url of 32 random bytes after its prefix. */
const SECRET = /^[A-Za-z0-9_-]{43}$/;
/** A host's name as it registers (its hostname): a DNS name's characters, at most 253. */
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

export const DEFAULT_TOKEN_TTL_HOURS = 24;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const secret = (prefix: string) => prefix + randomBytes(32).toString('base64url');

/** Why a join was refused, in words for the operator running `pcloud host join` (nothing of the database). */
export class JoinRefused extends Error {}

/** A join under the name of a host that serves: a second machine under it would act as that host too. */
export class NameServing extends JoinRefused {
  constructor(name: string) {
    super(`a host named ${name} is in this cloud and serving: give this machine a hostname of its own and join again (the token is still good); a machine that joins again under its own name does so once its server there is stopped`);
  }
}

/** Whether `s` has the shape of a token or key with this prefix (checked before anything is looked up). */
function wellFormed(s: unknown, prefix: string): s is string {
  return typeof s === 'string' && s.startsWith(prefix) && SECRET.test(s.slice(prefix.length));
}

/** Whether a host name is one a host may register under (its hostname). */
export function validHostName(name: unknown): name is string {
  return typeof name === 'string' && HOST_NAME.test(name) && !name.includes('..');
}

/** A new join token (printed once; only its hash is kept), for a host of `zone` (null: the control plane's first). */
export async function issueToken(db: Db, opts: { zone?: string; ttlHours?: number; now?: number } = {}): Promise<{ token: string; expiresAt: number }> {
  const now = opts.now ?? Date.now();
  const token = secret(TOKEN_PREFIX);
  const expiresAt = now + (opts.ttlHours ?? DEFAULT_TOKEN_TTL_HOURS) * 3600_000;
  await write(db, async (tx) => {
    // Tokens long expired and never used go (a used one stays: it holds its host's key).
    await tx.delete(hostTokens).where(and(isNull(hostTokens.usedAt), lt(hostTokens.expiresAt, now - 7 * 86400_000)));
    await tx.insert(hostTokens).values({ id: newId('hjt'), tokenHash: sha256(token), availabilityZone: opts.zone ?? null, createdAt: now, expiresAt });
  });
  return { token, expiresAt };
}

/**
 * Redeem a token for the host `name`: once, before it expires. Returns the host's key (shown once; its hash kept) and
 * the zone the token named. A host that joins again under its name needs a new token, and gets a new key.
 */
export async function redeemToken(db: Db, token: unknown, name: string, config: HostsConfig, now = Date.now()): Promise<{ key: string; zone: string | null }> {
  if (!wellFormed(token, TOKEN_PREFIX)) throw new JoinRefused('that is not a join token: print one with `pcloud host token` on the control plane');
  const key = secret(KEY_PREFIX);
  return await write(db, async (tx) => {
    // A host is known by its hostname: checked in the transaction that gives the name its key (one join at a time).
    const named = await tx.select({ heartbeatAt: hosts.heartbeatAt }).from(hosts).where(eq(hosts.name, name));
    if (named.some((h) => heard(h, config, now))) throw new NameServing(name);
    const row = (await tx.select().from(hostTokens).where(eq(hostTokens.tokenHash, sha256(token))).limit(1))[0];
    if (!row) throw new JoinRefused('the join token is not known here: print one with `pcloud host token` on this control plane');
    if (row.usedAt !== null) throw new JoinRefused('the join token was used already: print a new one with `pcloud host token`');
    if (row.expiresAt < now) throw new JoinRefused('the join token has expired: print a new one with `pcloud host token`');
    // A key earlier tokens gave a host of this name is no longer good: the host joined again. A removed host's name is
    // free for it: the machine registers as a new host.
    await tx.update(hostTokens).set({ keyHash: null }).where(eq(hostTokens.hostName, name));
    await freeRemovedName(tx, name);
    await tx.update(hostTokens).set({ usedAt: now, hostName: name, keyHash: sha256(key) }).where(eq(hostTokens.id, row.id));
    return { key, zone: row.availabilityZone };
  });
}

/** The name of the host whose key this is, or undefined (not a key, or not one any host holds now). */
export async function hostOfKey(db: Db, key: unknown): Promise<string | undefined> {
  if (!wellFormed(key, KEY_PREFIX)) return undefined;
  const row = (await db.select({ name: hostTokens.hostName }).from(hostTokens).where(eq(hostTokens.keyHash, sha256(key))).limit(1))[0];
  return row?.name ?? undefined;
}
