/**
 * Instance profiles on instances (EC2's IamInstanceProfile): which profile, hence which role, each instance has. One
 * association at a time per instance, made at launch (RunInstances, a launch template) or later
 * (AssociateIamInstanceProfile), replaced or removed by the API, and gone with its instance. The role's credentials in
 * the metadata service follow it (instance-credentials.ts listens to its ends).
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { byChunks } from '../db/chunks.js';
import { iamInstanceProfiles, iamProfileAssociations, iamRoles, instances } from '../db/tables.js';
import { CloudError, invalidParam, malformed, notFound } from './errors.js';
import { filterRows, type Fields, type Filter } from './filters.js';
import { isId, newId } from './ids.js';
import { pageOf, type Page, type PageRequest } from './paging.js';
import { iamArn, isIamName } from './iam/names.js';
import { write } from '../db/store.js';

/** What the request names: `IamInstanceProfile.Arn` and/or `.Name`. */
export interface ProfileRef {
  arn?: string;
  name?: string;
}

/** A profile an instance may have: it exists in the account and holds a role. */
export interface InstanceProfile {
  accountId: string;
  name: string;
  /** AIPA… */
  id: string;
  arn: string;
  roleName: string;
  roleArn: string;
}

export interface Association {
  id: string;
  accountId: string;
  instanceId: string;
  profile: { name: string; id: string; arn: string };
  /** The profile's role now (a profile's role can be removed or changed after the association was made). */
  roleName?: string;
  state: 'associating' | 'associated' | 'disassociating' | 'disassociated';
  createdAt: number;
}

/** `arn:aws:iam::ACCOUNT:instance-profile/PATH/NAME` (path `/` or `/…/`, at most 512 characters). */
const ARN_RE = /^arn:aws:iam::(\d{12}):instance-profile(\/(?:[\x21-\x7e]{1,510}\/)?)([\w+=,.@-]{1,128})$/;

/** A value echoed in an error: short and printable (hostile values are long and carry control characters). */
function shown(v: string): string {
  return v.slice(0, 128).replace(/[^\x20-\x7e]/g, '?');
}

const badName = (name: string) => invalidParam(`Value (${shown(name)}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`);
const badArn = (arn: string) => invalidParam(`Value (${shown(arn)}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN`);

export const profileArn = (accountId: string, path: string, name: string) => iamArn(accountId, 'instance-profile', path, name);
const roleArn = (accountId: string, path: string, name: string) => iamArn(accountId, 'role', path, name);

const fields: Fields<Association> = {
  'instance-id': (a) => a.instanceId,
  state: (a) => a.state,
};

/** An association id as EC2 makes them (`iip-assoc-` and 17 hex digits; 8 for old ones), or AWS's refusal. */
function checkAssociationId(id: string): void {
  if (!/^iip-assoc-[0-9a-f]{8}(?:[0-9a-f]{9})?$/.test(id)) throw invalidParam(`Value (${shown(id)}) for parameter associationId is invalid. Invalid value for associationId.`);
}

type Row = typeof iamProfileAssociations.$inferSelect;

export class IamAssociations {
  /** Called when an instance's association ends (disassociated, replaced, or the instance gone). */
  private readonly endListeners: ((accountId: string, instanceId: string) => Promise<void>)[] = [];

  constructor(private readonly db: Db) {}

  /** Be told when an instance loses its association (its role's sessions are to end). */
  onEnd(fn: (accountId: string, instanceId: string) => Promise<void>): void {
    this.endListeners.push(fn);
  }

  // ---------------------------------------------------------------- the profile a request names

  /**
   * The account's instance profile the request names (by ARN, by name, or both naming the same one), which must hold a
   * role (whether the caller may pass it, iam:PassRole, the API asks IAM before: src/api/ec2/access.ts).
   */
  async resolve(accountId: string, ref: ProfileRef): Promise<InstanceProfile> {
    const { arn, name } = ref;
    if (!arn && !name) throw new CloudError('MissingParameter', 'The request must contain the parameter iamInstanceProfile.arn or iamInstanceProfile.name');
    let profileName: string;
    if (arn) {
      const m = ARN_RE.exec(arn);
      if (!m || m[1] !== accountId || (name && name !== m[3])) throw badArn(arn);
      profileName = m[3]!;
    } else {
      if (!isIamName(name!)) throw badName(name!);
      profileName = name!;
    }
    const row = (await this.db.select().from(iamInstanceProfiles)
      .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, profileName))).limit(1))[0];
    const wrong = () => (arn ? badArn(arn) : badName(profileName));
    if (!row) throw wrong();
    const path = row.path;
    if (arn && arn !== profileArn(accountId, path, row.name)) throw wrong();
    const role = row.roleName === null ? undefined
      : (await this.db.select().from(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, row.roleName))).limit(1))[0];
    if (!role) {
      throw invalidParam(`Value (${shown(arn ?? profileName)}) for parameter iamInstanceProfile.${arn ? 'arn' : 'name'} is invalid. The instance profile ${row.name} has no role: add one with AddRoleToInstanceProfile, then try again.`);
    }
    const profile: InstanceProfile = {
      accountId, name: row.name, id: row.profileId, arn: profileArn(accountId, path, row.name),
      roleName: role.name, roleArn: roleArn(accountId, role.path, role.name),
    };
    return profile;
  }

  // ---------------------------------------------------------------- launch

  /** RunInstances with a profile: the new instances' associations, written in the launch's own transaction. */
  async launched(tx: Pick<Db, 'insert'>, profile: InstanceProfile, instanceIds: readonly string[], now = Date.now()): Promise<void> {
    for (const instanceId of instanceIds) {
      await tx.insert(iamProfileAssociations).values({
        associationId: newId('iip-assoc'), accountId: profile.accountId, instanceId, profileName: profile.name, state: 'associated', createdAt: now,
      });
    }
  }

  // ---------------------------------------------------------------- reads

  /** The instance's association, if it has one. */
  async ofInstance(instanceId: string): Promise<Association | undefined> {
    const row = (await this.db.select().from(iamProfileAssociations).where(eq(iamProfileAssociations.instanceId, instanceId)).limit(1))[0];
    return row && (await this.view(row));
  }

  /**
   * DescribeInstances' iamInstanceProfile, for many instances at once: their associations, then the profiles they
   * name, each a query per 500 (never one per instance).
   */
  async ofInstances(instanceIds: readonly string[]): Promise<Map<string, Association>> {
    const out = new Map<string, Association>();
    const rows = await byChunks(instanceIds, (chunk) => this.db.select().from(iamProfileAssociations).where(inArray(iamProfileAssociations.instanceId, chunk)));
    // Profiles by account and name (an account id has no '/').
    const profiles = new Map<string, ProfileRow>();
    for (const accountId of new Set(rows.map((r) => r.accountId))) {
      const names = [...new Set(rows.filter((r) => r.accountId === accountId).map((r) => r.profileName))];
      const found = await byChunks(names, (chunk) => this.db.select().from(iamInstanceProfiles)
        .where(and(eq(iamInstanceProfiles.accountId, accountId), inArray(iamInstanceProfiles.name, chunk))));
      for (const p of found) profiles.set(`${accountId}/${p.name}`, p);
    }
    for (const r of rows) {
      const a = asShown(r, profiles.get(`${r.accountId}/${r.profileName}`));
      if (a) out.set(a.instanceId, a);
    }
    return out;
  }

  /** DescribeIamInstanceProfileAssociations: by id (each must exist), filtered (instance-id, state), a page at a time. */
  async describe(accountId: string, q: { ids: string[]; filters: Filter[] } & PageRequest): Promise<Page<Association>> {
    for (const id of q.ids) checkAssociationId(id);
    const rows = await this.db.select().from(iamProfileAssociations).where(eq(iamProfileAssociations.accountId, accountId))
      .orderBy(asc(iamProfileAssociations.createdAt), asc(iamProfileAssociations.associationId));
    const all: Association[] = [];
    for (const r of rows) {
      const a = await this.view(r);
      if (a) all.push(a);
    }
    const missing = q.ids.filter((id) => !all.some((a) => a.id === id));
    if (missing.length) throw notFound('InvalidAssociationID.NotFound', missing.join(', '));
    const named = q.ids.length ? all.filter((a) => q.ids.includes(a.id)) : all;
    return pageOf(filterRows(named, q.filters, fields), q);
  }

  /** The account's association by id, or AWS's error. */
  async get(accountId: string, associationId: string): Promise<Association> {
    checkAssociationId(associationId);
    const row = (await this.db.select().from(iamProfileAssociations)
      .where(and(eq(iamProfileAssociations.accountId, accountId), eq(iamProfileAssociations.associationId, associationId))).limit(1))[0];
    const a = row && (await this.view(row));
    if (!a) throw notFound('InvalidAssociationID.NotFound', associationId);
    return a;
  }

  // ---------------------------------------------------------------- changes

  /** AssociateIamInstanceProfile: the instance (not terminated) gets the profile, if it has none yet. */
  async associate(accountId: string, instanceId: string, profile: InstanceProfile, now = Date.now()): Promise<Association> {
    await this.checkInstance(accountId, instanceId);
    return await write(this.db, async (tx) => {
      const current = (await tx.select().from(iamProfileAssociations).where(eq(iamProfileAssociations.instanceId, instanceId)).limit(1))[0];
      if (current && (await this.view(current))) throw new CloudError('IncorrectState', `There is an existing association for instance ${instanceId}`);
      // One whose profile is gone is none: it makes room.
      if (current) await tx.delete(iamProfileAssociations).where(eq(iamProfileAssociations.associationId, current.associationId));
      const row = { associationId: newId('iip-assoc'), accountId, instanceId, profileName: profile.name, state: 'associated', createdAt: now };
      await tx.insert(iamProfileAssociations).values(row);
      return { ...(await this.view(row))!, state: 'associating' };
    });
  }

  /** DisassociateIamInstanceProfile: the association goes, and its role's sessions with it. */
  async disassociate(accountId: string, associationId: string): Promise<Association> {
    const a = await this.get(accountId, associationId);
    await this.db.delete(iamProfileAssociations).where(eq(iamProfileAssociations.associationId, a.id));
    await this.ended(accountId, a.instanceId);
    return { ...a, state: 'disassociating' };
  }

  /** ReplaceIamInstanceProfileAssociation: a new association (a new id) with the other profile, in one step. */
  async replace(accountId: string, associationId: string, profile: InstanceProfile, now = Date.now()): Promise<Association> {
    const a = await this.get(accountId, associationId);
    await this.checkInstance(accountId, a.instanceId);
    const row = { associationId: newId('iip-assoc'), accountId, instanceId: a.instanceId, profileName: profile.name, state: 'associated', createdAt: now };
    await write(this.db, async (tx) => {
      await tx.delete(iamProfileAssociations).where(eq(iamProfileAssociations.associationId, a.id));
      await tx.insert(iamProfileAssociations).values(row);
    });
    await this.ended(accountId, a.instanceId);
    return { ...(await this.view(row))!, state: 'associating' };
  }

  /** The instance was terminated (or its record forgotten): its association and its role's sessions go. */
  async instanceGone(instanceId: string): Promise<void> {
    const rows = await this.db.delete(iamProfileAssociations).where(eq(iamProfileAssociations.instanceId, instanceId))
      .returning({ accountId: iamProfileAssociations.accountId });
    for (const r of rows) await this.ended(r.accountId, instanceId);
  }

  private async ended(accountId: string, instanceId: string): Promise<void> {
    for (const fn of this.endListeners) await fn(accountId, instanceId);
  }

  /** Associations are made for the account's instances that still exist (not shutting down or terminated). */
  private async checkInstance(accountId: string, instanceId: string): Promise<void> {
    if (!isId('i', instanceId)) throw malformed('InvalidInstanceID.Malformed', instanceId);
    const inst = (await this.db.select({ state: instances.state }).from(instances)
      .where(and(eq(instances.accountId, accountId), eq(instances.id, instanceId))).limit(1))[0];
    if (!inst) throw notFound('InvalidInstanceID.NotFound', instanceId);
    if (inst.state === 'shutting-down' || inst.state === 'terminated') {
      throw new CloudError('IncorrectInstanceState', `The instance '${instanceId}' is ${inst.state}: an instance profile can be associated with a running or stopped instance only.`);
    }
  }

  /** A row as the API shows it (asShown()), its profile read now. */
  private async view(row: Row): Promise<Association | undefined> {
    return asShown(row, (await this.db.select().from(iamInstanceProfiles)
      .where(and(eq(iamInstanceProfiles.accountId, row.accountId), eq(iamInstanceProfiles.name, row.profileName))).limit(1))[0]);
  }
}

type ProfileRow = typeof iamInstanceProfiles.$inferSelect;

/**
 * A row as the API shows it: its profile's id and ARN as they are now. Undefined if the profile is gone, or was
 * deleted and made again since (a new profile by the same name is not the one the instance was given).
 */
function asShown(row: Row, p: ProfileRow | undefined): Association | undefined {
  if (!p || p.createdAt > row.createdAt) return undefined;
  return {
    id: row.associationId, accountId: row.accountId, instanceId: row.instanceId, state: row.state as Association['state'],
    profile: { name: p.name, id: p.profileId, arn: profileArn(row.accountId, p.path, p.name) }, createdAt: row.createdAt,
    ...(p.roleName !== null ? { roleName: p.roleName } : {}),
  };
}
