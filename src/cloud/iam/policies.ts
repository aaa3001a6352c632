/**
 * Managed policies (the account's own, with up to 5 versions; AWS's by ARN from managed/), their attachments to users
 * and roles, and inline policies: IAM's policy operations. And documentsFor(identity): the parsed policies a user's or
 * a role session's request is evaluated against, kept in memory until the next IAM write (changed()). The memory is
 * this server's: a second server on the same database would not see the other's writes (issue 17: a generation
 * counter in the database, read per request, would do).
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { iamAttachments, iamInlinePolicies, iamPolicies, iamPolicyVersions, iamRoles, iamTags, iamUsers } from '../../db/tables.js';
import { CloudError } from '../errors.js';
import type { Identity } from './identity.js';
import { iamArn, iamId } from './names.js';
import { cachedPolicy, managedPolicies, managedPolicy, parsePolicy, POLICY_SIZE, policySize, type ManagedPolicy, type Policy } from './policy/index.js';
import { IamTags, type Tag } from './tags.js';
import { write } from '../../db/store.js';

export type PrincipalKind = 'user' | 'role';

/** A managed policy as GetPolicy and ListPolicies describe it: the account's own, or AWS's. */
export interface PolicyView {
  arn: string;
  name: string;
  id: string;
  path: string;
  description?: string;
  defaultVersionId: string;
  /** Users and roles of the account it is attached to. */
  attachmentCount: number;
  createdAt: Date;
  updatedAt: Date;
  /** An AWS managed policy (arn:aws:iam::aws:policy/…): read-only. */
  aws: boolean;
}

export interface PolicyVersionView {
  versionId: string;
  document: string;
  isDefault: boolean;
  createdAt: Date;
}

export interface ListPoliciesOptions {
  scope?: 'All' | 'AWS' | 'Local';
  onlyAttached?: boolean;
  pathPrefix?: string;
}

/** AWS's quotas. */
export const MAX_POLICY_VERSIONS = 5;
export const MAX_ATTACHED_POLICIES = 10;
/** Document sizes (characters, whitespace not counted, as IAM counts them): a managed policy's; a user's or role's inline ones together. */
const INLINE_POLICY_SIZE: Readonly<Record<PrincipalKind, number>> = { user: POLICY_SIZE.userInline, role: POLICY_SIZE.roleInline };
/** Principals whose documents are kept in memory at most (past it the cache starts over). */
const CACHE_MAX = 10_000;

const VERSION_ID = /^v[1-9][0-9]{0,8}$/;

/** What a policy ARN names: AWS's managed policy, or one of an account's by path and name. */
type PolicyRef = { aws: ManagedPolicy } | { accountId: string; path: string; name: string };

/** What documentsFor keeps per principal. */
interface Facts {
  policies: readonly Policy[];
  tags: ReadonlyMap<string, string>;
}

/**
 * How long documents read are kept at most: every IAM change drops them at once (changed(), and another server's
 * through freshen()); this bounds what a change whose notice was lost could leave behind.
 */
const FACTS_MS = 5_000;

const kindWord = (kind: PrincipalKind) => (kind === 'user' ? 'User' : 'Role');

export class Policies {
  private readonly cache = new Map<string, Facts & { until: number }>();
  /** Moves at every changed(): what was read before it (a load still in flight then) is not kept. */
  private generation = 0;

  constructor(private readonly db: Db, private readonly tags: IamTags) {}

  /** Forget every principal's documents: called by every IAM write that could change what a request is allowed. */
  changed(): void {
    this.generation++;
    this.cache.clear();
  }

  /**
   * Keep what was read at `generation` (begun at `readAt`: kept from then), unless an IAM write came since (it may have
   * read rows that write changed).
   */
  private remember(key: string, facts: Facts, generation: number, readAt: number): void {
    if (generation !== this.generation) return;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(key, { ...facts, until: readAt + FACTS_MS });
  }

  /** What is kept for `key`, while it is fresh. */
  private kept(key: string): Facts | undefined {
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit;
    if (hit) this.cache.delete(key);
    return undefined;
  }

  // ---- managed policies ------------------------------------------------------------------------------------------

  /** CreatePolicy: the policy with its document as v1, the default. */
  async create(accountId: string, p: { name: string; path: string; document: string; description?: string; tags?: readonly Tag[] }): Promise<PolicyView> {
    checkManagedDocument(p.document);
    const now = Date.now();
    await write(this.db, async (tx) => {
      if ((await tx.select({ n: iamPolicies.name }).from(iamPolicies).where(and(eq(iamPolicies.accountId, accountId), eq(iamPolicies.name, p.name))).limit(1))[0]) {
        throw new CloudError('EntityAlreadyExists', `A policy called ${p.name} already exists. Duplicate names are not allowed.`);
      }
      await tx.insert(iamPolicies).values({
        accountId, name: p.name, policyId: iamId('ANPA'), path: p.path, description: p.description ?? null, defaultVersion: 'v1',
        nextVersion: 2, createdAt: now, updatedAt: now,
      });
      await tx.insert(iamPolicyVersions).values({ accountId, policyName: p.name, versionId: 'v1', document: p.document, createdAt: now });
      if (p.tags?.length) await this.tags.put(accountId, 'policy', p.name, p.tags, tx);
    });
    this.changed();
    return await this.get(accountId, iamArn(accountId, 'policy', p.path, p.name));
  }

  /** GetPolicy: the account's policy or AWS's, by ARN. */
  async get(accountId: string, arn: string): Promise<PolicyView> {
    const ref = this.ref(accountId, arn);
    if ('aws' in ref) return await this.awsView(accountId, ref.aws);
    return await this.view(await this.row(accountId, arn, ref));
  }

  /** ListPolicies: AWS's and the account's, by ARN. */
  async list(accountId: string, o: ListPoliciesOptions = {}): Promise<PolicyView[]> {
    const scope = o.scope ?? 'All';
    const prefix = o.pathPrefix ?? '/';
    const out: PolicyView[] = [];
    if (scope !== 'Local') for (const m of managedPolicies()) if (m.path.startsWith(prefix)) out.push(await this.awsView(accountId, m));
    if (scope !== 'AWS') {
      for (const r of (await this.db.select().from(iamPolicies).where(eq(iamPolicies.accountId, accountId)))) {
        if (r.path.startsWith(prefix)) out.push(await this.view(r));
      }
    }
    return out.filter((p) => !o.onlyAttached || p.attachmentCount > 0).sort((a, b) => (a.arn < b.arn ? -1 : a.arn > b.arn ? 1 : 0));
  }

  /** DeletePolicy: only once detached from everything and down to its default version, as AWS. */
  async delete(accountId: string, arn: string): Promise<void> {
    const row = await this.ownRow(accountId, arn);
    await write(this.db, async (tx) => {
      if ((await tx.select({ a: iamAttachments.policyArn }).from(iamAttachments).where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.policyArn, arn))).limit(1))[0]) {
        throw new CloudError('DeleteConflict', 'Cannot delete a policy attached to entities.');
      }
      const versions = await tx.select({ v: iamPolicyVersions.versionId }).from(iamPolicyVersions).where(versionsOf(accountId, row.name));
      if (versions.length > 1) {
        throw new CloudError('DeleteConflict', "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.");
      }
      await tx.delete(iamPolicyVersions).where(versionsOf(accountId, row.name));
      await tx.delete(iamPolicies).where(and(eq(iamPolicies.accountId, accountId), eq(iamPolicies.name, row.name)));
      await this.tags.clear(accountId, 'policy', row.name, tx);
    });
    this.changed();
  }

  // ---- versions --------------------------------------------------------------------------------------------------

  async getVersion(accountId: string, arn: string, versionId: string): Promise<PolicyVersionView> {
    checkVersionId(versionId);
    const ref = this.ref(accountId, arn);
    if ('aws' in ref) {
      if (versionId !== ref.aws.versionId) throw noSuchVersion(arn, versionId);
      return { versionId, document: ref.aws.document, isDefault: true, createdAt: new Date(ref.aws.createDate) };
    }
    const row = await this.row(accountId, arn, ref);
    const v = (await this.db.select().from(iamPolicyVersions).where(and(versionsOf(accountId, row.name), eq(iamPolicyVersions.versionId, versionId))).limit(1))[0];
    if (!v) throw noSuchVersion(arn, versionId);
    return { versionId, document: v.document, isDefault: v.versionId === row.defaultVersion, createdAt: new Date(v.createdAt) };
  }

  /** ListPolicyVersions: newest first, as AWS. */
  async listVersions(accountId: string, arn: string): Promise<PolicyVersionView[]> {
    const ref = this.ref(accountId, arn);
    if ('aws' in ref) return [{ versionId: ref.aws.versionId, document: ref.aws.document, isDefault: true, createdAt: new Date(ref.aws.createDate) }];
    const row = await this.row(accountId, arn, ref);
    return (await this.db.select().from(iamPolicyVersions).where(versionsOf(accountId, row.name)))
      .map((v) => ({ versionId: v.versionId, document: v.document, isDefault: v.versionId === row.defaultVersion, createdAt: new Date(v.createdAt) }))
      .sort((a, b) => versionNumber(b.versionId) - versionNumber(a.versionId));
  }

  /** CreatePolicyVersion: the next number (never reused), at most 5 versions kept. */
  async createVersion(accountId: string, arn: string, document: string, setAsDefault: boolean): Promise<PolicyVersionView> {
    await this.ownRow(accountId, arn);
    checkManagedDocument(document);
    const now = Date.now();
    // The counter read in the transaction (it holds the write lock): another server's version in between is counted.
    const versionId = await write(this.db, async (tx) => {
      const row = await this.ownRow(accountId, arn);
      const versionId = `v${row.nextVersion}`;
      const n = (await tx.select({ v: iamPolicyVersions.versionId }).from(iamPolicyVersions).where(versionsOf(accountId, row.name))).length;
      if (n >= MAX_POLICY_VERSIONS) {
        throw new CloudError('LimitExceeded', `A managed policy can have up to ${MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version.`);
      }
      await tx.insert(iamPolicyVersions).values({ accountId, policyName: row.name, versionId, document, createdAt: now });
      await tx.update(iamPolicies).set({ nextVersion: row.nextVersion + 1, updatedAt: now, ...(setAsDefault ? { defaultVersion: versionId } : {}) })
        .where(and(eq(iamPolicies.accountId, accountId), eq(iamPolicies.name, row.name)));
      return versionId;
    });
    this.changed();
    return { versionId, document, isDefault: setAsDefault, createdAt: new Date(now) };
  }

  async deleteVersion(accountId: string, arn: string, versionId: string): Promise<void> {
    checkVersionId(versionId);
    const row = await this.ownRow(accountId, arn);
    await this.version(accountId, row.name, arn, versionId);
    if (versionId === row.defaultVersion) throw new CloudError('DeleteConflict', 'Cannot delete the default version of a policy.');
    await this.db.delete(iamPolicyVersions).where(and(versionsOf(accountId, row.name), eq(iamPolicyVersions.versionId, versionId)));
    this.changed();
  }

  async setDefaultVersion(accountId: string, arn: string, versionId: string): Promise<void> {
    checkVersionId(versionId);
    const row = await this.ownRow(accountId, arn);
    await this.version(accountId, row.name, arn, versionId);
    await this.db.update(iamPolicies).set({ defaultVersion: versionId, updatedAt: Date.now() })
      .where(and(eq(iamPolicies.accountId, accountId), eq(iamPolicies.name, row.name)));
    this.changed();
  }

  // ---- tags of the account's policies ----------------------------------------------------------------------------

  async tagsOf(accountId: string, arn: string): Promise<Tag[]> {
    return await this.tags.list(accountId, 'policy', (await this.ownRow(accountId, arn)).name);
  }

  async tag(accountId: string, arn: string, tags: readonly Tag[]): Promise<void> {
    const { name } = await this.ownRow(accountId, arn);
    await write(this.db, async (tx) => await this.tags.put(accountId, 'policy', name, tags, tx));
  }

  async untag(accountId: string, arn: string, keys: readonly string[]): Promise<void> {
    const { name } = await this.ownRow(accountId, arn);
    await write(this.db, async (tx) => await this.tags.remove(accountId, 'policy', name, keys, tx));
  }

  // ---- attachments -----------------------------------------------------------------------------------------------

  /** AttachUserPolicy / AttachRolePolicy: attaching again what is attached changes nothing, as AWS. */
  async attach(accountId: string, kind: PrincipalKind, principal: string, arn: string): Promise<void> {
    await this.principal(accountId, kind, principal);
    const ref = this.ref(accountId, arn, 'attachable');
    if (!('aws' in ref)) await this.row(accountId, arn, ref, 'attachable');
    await write(this.db, async (tx) => {
      const attached = await tx.select({ arn: iamAttachments.policyArn }).from(iamAttachments).where(attachmentsOf(accountId, kind, principal));
      if (attached.some((a) => a.arn === arn)) return;
      if (attached.length >= MAX_ATTACHED_POLICIES) {
        throw new CloudError('LimitExceeded', `Cannot exceed quota for PoliciesPer${kindWord(kind)}: ${MAX_ATTACHED_POLICIES}`);
      }
      await tx.insert(iamAttachments).values({ accountId, principalKind: kind, principalName: principal, policyArn: arn, createdAt: Date.now() });
    });
    this.changed();
  }

  async detach(accountId: string, kind: PrincipalKind, principal: string, arn: string): Promise<void> {
    await this.principal(accountId, kind, principal);
    const done = await this.db.delete(iamAttachments).where(and(attachmentsOf(accountId, kind, principal), eq(iamAttachments.policyArn, arn)))
      .returning({ arn: iamAttachments.policyArn });
    if (done.length === 0) throw new CloudError('NoSuchEntity', `Policy ${arn} was not found.`);
    this.changed();
  }

  /** ListAttachedUserPolicies / ListAttachedRolePolicies, by name. */
  async attached(accountId: string, kind: PrincipalKind, principal: string, pathPrefix = '/'): Promise<{ name: string; arn: string }[]> {
    await this.principal(accountId, kind, principal);
    return (await this.db.select({ arn: iamAttachments.policyArn }).from(iamAttachments).where(attachmentsOf(accountId, kind, principal)))
      .map(({ arn }) => ({ arn, ...pathAndName(arn) }))
      .filter((p) => p.path.startsWith(pathPrefix))
      .map(({ arn, name }) => ({ arn, name }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** ListEntitiesForPolicy: the users and roles it is attached to, with their ids. */
  async entitiesFor(accountId: string, arn: string, pathPrefix = '/'): Promise<{ users: { name: string; id: string }[]; roles: { name: string; id: string }[] }> {
    await this.get(accountId, arn);
    const names = async (kind: PrincipalKind) => (await this.db.select({ name: iamAttachments.principalName }).from(iamAttachments)
      .where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.policyArn, arn), eq(iamAttachments.principalKind, kind)))).map((r) => r.name);
    const userNames = await names('user');
    const roleNames = await names('role');
    const users = userNames.length === 0 ? [] : (await this.db.select({ name: iamUsers.name, id: iamUsers.userId, path: iamUsers.path }).from(iamUsers)
      .where(and(eq(iamUsers.accountId, accountId), inArray(iamUsers.name, userNames))).orderBy(asc(iamUsers.name)));
    const roles = roleNames.length === 0 ? [] : (await this.db.select({ name: iamRoles.name, id: iamRoles.roleId, path: iamRoles.path }).from(iamRoles)
      .where(and(eq(iamRoles.accountId, accountId), inArray(iamRoles.name, roleNames))).orderBy(asc(iamRoles.name)));
    const under = <T extends { name: string; id: string; path: string }>(l: T[]) => l.filter((e) => e.path.startsWith(pathPrefix)).map(({ name, id }) => ({ name, id }));
    return { users: under(users), roles: under(roles) };
  }

  // ---- inline policies -------------------------------------------------------------------------------------------

  /** PutUserPolicy / PutRolePolicy: adds or replaces the named document. */
  async putInline(accountId: string, kind: PrincipalKind, principal: string, policyName: string, document: string): Promise<void> {
    await write(this.db, async () => {
      await this.principal(accountId, kind, principal);
      parsePolicy(document, 'identity');
      // The quota is on all of its inline policies together (the one replaced not counted).
      const others = (await this.db.select({ name: iamInlinePolicies.policyName, document: iamInlinePolicies.document }).from(iamInlinePolicies)
        .where(inlineOf(accountId, kind, principal))).filter((r) => r.name !== policyName);
      const size = others.reduce((n, r) => n + policySize(r.document), policySize(document));
      if (size > INLINE_POLICY_SIZE[kind]) {
        throw new CloudError('LimitExceeded', `Maximum policy size of ${INLINE_POLICY_SIZE[kind]} bytes exceeded for ${kind} ${principal}`);
      }
      await this.db.insert(iamInlinePolicies).values({ accountId, principalKind: kind, principalName: principal, policyName, document, createdAt: Date.now() })
        .onConflictDoUpdate({ target: [iamInlinePolicies.accountId, iamInlinePolicies.principalKind, iamInlinePolicies.principalName, iamInlinePolicies.policyName], set: { document } });
      this.changed();
    });
  }

  async getInline(accountId: string, kind: PrincipalKind, principal: string, policyName: string): Promise<string> {
    await this.principal(accountId, kind, principal);
    const row = (await this.db.select({ document: iamInlinePolicies.document }).from(iamInlinePolicies)
      .where(and(inlineOf(accountId, kind, principal), eq(iamInlinePolicies.policyName, policyName))).limit(1))[0];
    if (!row) throw noSuchInline(kind, policyName);
    return row.document;
  }

  async deleteInline(accountId: string, kind: PrincipalKind, principal: string, policyName: string): Promise<void> {
    await this.principal(accountId, kind, principal);
    const done = await this.db.delete(iamInlinePolicies).where(and(inlineOf(accountId, kind, principal), eq(iamInlinePolicies.policyName, policyName)))
      .returning({ name: iamInlinePolicies.policyName });
    if (done.length === 0) throw noSuchInline(kind, policyName);
    this.changed();
  }

  /** ListUserPolicies / ListRolePolicies: the inline policies' names, in order. */
  async inlineNames(accountId: string, kind: PrincipalKind, principal: string): Promise<string[]> {
    await this.principal(accountId, kind, principal);
    return (await this.db.select({ name: iamInlinePolicies.policyName }).from(iamInlinePolicies).where(inlineOf(accountId, kind, principal))
      .orderBy(asc(iamInlinePolicies.policyName))).map((r) => r.name);
  }

  // ---- what a request is evaluated against -----------------------------------------------------------------------

  /**
   * The parsed policies that apply to the identity: a user's or a role's attached (default versions) and inline ones.
   * Root has none (it is not evaluated). Kept in memory until the next IAM write.
   */
  async documentsFor(identity: Identity): Promise<readonly Policy[]> {
    return (await this.facts(identity))?.policies ?? [];
  }

  /** The user's or role's tags (aws:PrincipalTag/…), kept with its documents. */
  async principalTags(identity: Identity): Promise<ReadonlyMap<string, string>> {
    return (await this.facts(identity))?.tags ?? new Map();
  }

  private async facts(identity: Identity): Promise<Facts | undefined> {
    if (identity.kind === 'root') return undefined;
    const kind: PrincipalKind = identity.kind === 'user' ? 'user' : 'role';
    const name = identity.kind === 'user' ? identity.name : identity.roleName;
    const key = `${identity.accountId}:${kind}:${name}`;
    const hit = this.kept(key);
    if (hit) return hit;
    const [generation, readAt] = [this.generation, Date.now()];
    const facts = await this.load(identity.accountId, kind, name);
    this.remember(key, facts, generation, readAt);
    return facts;
  }

  private async load(accountId: string, kind: PrincipalKind, name: string): Promise<Facts> {
    const docs: string[] = [];
    for (const { arn } of (await this.db.select({ arn: iamAttachments.policyArn }).from(iamAttachments).where(attachmentsOf(accountId, kind, name)))) {
      const doc = await this.defaultDocument(accountId, arn);
      if (doc !== undefined) docs.push(doc);
    }
    for (const r of (await this.db.select({ document: iamInlinePolicies.document }).from(iamInlinePolicies).where(inlineOf(accountId, kind, name)))) docs.push(r.document);
    const policies = parsedAll(docs);
    const tags = new Map<string, string>();
    for (const t of (await this.db.select({ key: iamTags.key, value: iamTags.value }).from(iamTags)
      .where(and(eq(iamTags.accountId, accountId), eq(iamTags.kind, kind), eq(iamTags.name, name))))) tags.set(t.key, t.value);
    return { policies, tags };
  }

  /**
   * A role session's session policies (AssumeRole's Policy and PolicyArns: both bound what the role allows), parsed;
   * kept until the next IAM write as documentsFor's are.
   */
  async sessionPolicies(accountId: string, policy: string | undefined, policyArns: readonly string[]): Promise<readonly Policy[]> {
    const key = `session:${accountId}:${policyArns.join(' ')}:${policy ?? ''}`;
    const hit = this.kept(key);
    if (hit) return hit.policies;
    const [generation, readAt] = [this.generation, Date.now()];
    const docs: string[] = [];
    for (const arn of policyArns) {
      const doc = await this.defaultDocument(accountId, arn);
      if (doc !== undefined) docs.push(doc);
    }
    if (policy !== undefined) docs.push(policy);
    const policies = parsedAll(docs);
    this.remember(key, { policies, tags: new Map() }, generation, readAt);
    return policies;
  }

  private async defaultDocument(accountId: string, arn: string): Promise<string | undefined> {
    const aws = managedPolicy(arn);
    if (aws) return aws.document;
    const ref = parseArn(arn);
    if (!ref || 'aws' in ref) return undefined;
    const row = (await this.db.select({ name: iamPolicies.name, version: iamPolicies.defaultVersion }).from(iamPolicies)
      .where(and(eq(iamPolicies.accountId, accountId), eq(iamPolicies.name, ref.name))).limit(1))[0];
    if (!row) return undefined;
    return (await this.db.select({ document: iamPolicyVersions.document }).from(iamPolicyVersions)
      .where(and(versionsOf(accountId, row.name), eq(iamPolicyVersions.versionId, row.version))).limit(1))[0]?.document;
  }

  // ---- lookups ---------------------------------------------------------------------------------------------------

  /** What the ARN names (NoSuchEntity for an AWS ARN AWS has no policy at; InvalidInput for no policy ARN at all). */
  private ref(accountId: string, arn: string, mode: 'get' | 'attachable' = 'get'): PolicyRef {
    const ref = parseArn(arn);
    if (!ref) throw new CloudError('InvalidInput', `ARN ${echo(arn)} is not valid.`);
    if ('aws' in ref && !ref.aws) throw notFound(arn, mode);
    return ref as PolicyRef;
  }

  private async row(accountId: string, arn: string, ref: { accountId: string; path: string; name: string }, mode: 'get' | 'attachable' = 'get'): Promise<typeof iamPolicies.$inferSelect> {
    const row = ref.accountId === accountId
      ? (await this.db.select().from(iamPolicies).where(and(eq(iamPolicies.accountId, accountId), eq(iamPolicies.name, ref.name))).limit(1))[0]
      : undefined;
    if (!row || row.path !== ref.path) throw notFound(arn, mode);
    return row;
  }

  /** The account's own policy the ARN names (AWS's may not be changed). */
  private async ownRow(accountId: string, arn: string): Promise<typeof iamPolicies.$inferSelect> {
    const ref = this.ref(accountId, arn);
    if ('aws' in ref) throw new CloudError('UnmodifiableEntity', `Cannot modify an AWS managed policy: ${arn}.`);
    return await this.row(accountId, arn, ref);
  }

  private async version(accountId: string, policyName: string, arn: string, versionId: string): Promise<void> {
    if (!(await this.db.select({ v: iamPolicyVersions.versionId }).from(iamPolicyVersions).where(and(versionsOf(accountId, policyName), eq(iamPolicyVersions.versionId, versionId))).limit(1))[0]) {
      throw noSuchVersion(arn, versionId);
    }
  }

  /** The user or role must exist (NoSuchEntity in AWS's words). */
  private async principal(accountId: string, kind: PrincipalKind, name: string): Promise<void> {
    const found = kind === 'user'
      ? (await this.db.select({ n: iamUsers.name }).from(iamUsers).where(and(eq(iamUsers.accountId, accountId), eq(iamUsers.name, name))).limit(1))[0]
      : (await this.db.select({ n: iamRoles.name }).from(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name))).limit(1))[0];
    if (!found) throw new CloudError('NoSuchEntity', `The ${kind} with name ${name} cannot be found.`);
  }

  private async attachmentCount(accountId: string, arn: string): Promise<number> {
    return (await this.db.select({ n: iamAttachments.principalName }).from(iamAttachments)
      .where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.policyArn, arn)))).length;
  }

  private async view(r: typeof iamPolicies.$inferSelect): Promise<PolicyView> {
    const arn = iamArn(r.accountId, 'policy', r.path, r.name);
    return {
      arn, name: r.name, id: r.policyId, path: r.path, description: r.description ?? undefined, defaultVersionId: r.defaultVersion,
      attachmentCount: await this.attachmentCount(r.accountId, arn), createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt), aws: false,
    };
  }

  private async awsView(accountId: string, m: ManagedPolicy): Promise<PolicyView> {
    const created = new Date(m.createDate);
    return {
      arn: m.arn, name: m.name, id: m.id, path: m.path, description: m.description, defaultVersionId: m.versionId,
      attachmentCount: await this.attachmentCount(accountId, m.arn), createdAt: created, updatedAt: new Date(m.updateDate), aws: true,
    };
  }
}

/** Stored documents parsed (each was checked when written; one that no longer parses, under a stricter parser, grants nothing). */
function parsedAll(docs: readonly string[]): Policy[] {
  const out: Policy[] = [];
  for (const doc of docs) {
    try {
      out.push(cachedPolicy(doc, 'identity'));
    } catch (err) {
      if (!(err instanceof CloudError)) throw err;
    }
  }
  return out;
}

const versionsOf = (accountId: string, policyName: string) => and(eq(iamPolicyVersions.accountId, accountId), eq(iamPolicyVersions.policyName, policyName));
const attachmentsOf = (accountId: string, kind: PrincipalKind, name: string) =>
  and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.principalKind, kind), eq(iamAttachments.principalName, name));
const inlineOf = (accountId: string, kind: PrincipalKind, name: string) =>
  and(eq(iamInlinePolicies.accountId, accountId), eq(iamInlinePolicies.principalKind, kind), eq(iamInlinePolicies.principalName, name));

const echo = (s: string) => (s.length > 128 ? `${s.slice(0, 128)}…` : s);

function notFound(arn: string, mode: 'get' | 'attachable'): CloudError {
  return new CloudError('NoSuchEntity', mode === 'attachable' ? `Policy ${echo(arn)} does not exist or is not attachable.` : `Policy ${echo(arn)} was not found.`);
}

const noSuchVersion = (arn: string, versionId: string) =>
  new CloudError('NoSuchEntity', `Policy ${echo(arn)} version ${versionId} does not exist or is not attachable.`);

const noSuchInline = (kind: PrincipalKind, name: string) => new CloudError('NoSuchEntity', `The ${kind} policy with name ${name} cannot be found.`);

function checkVersionId(v: string): void {
  if (!VERSION_ID.test(v)) {
    throw new CloudError('ValidationError', `1 validation error detected: Value '${echo(v)}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?`);
  }
}

const versionNumber = (v: string) => Number(v.slice(1));

/** A managed policy's document: a valid identity policy within the size managed policies may have. */
function checkManagedDocument(document: string): void {
  parsePolicy(document, 'identity', { managed: true });
  if (policySize(document) > POLICY_SIZE.managed) throw new CloudError('LimitExceeded', `Cannot exceed quota for PolicySize: ${POLICY_SIZE.managed}`);
}

/** A policy ARN's path and name (`arn:aws:iam::ACCOUNT:policy/PATH/NAME`). */
function pathAndName(arn: string): { path: string; name: string } {
  const rest = arn.slice(arn.indexOf(':policy/') + ':policy'.length);
  const cut = rest.lastIndexOf('/');
  return { path: rest.slice(0, cut + 1), name: rest.slice(cut + 1) };
}

const POLICY_ARN = /^arn:aws:iam::(aws|\d{12}):policy(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]{1,128})$/;

/**
 * What a policy ARN names: AWS's managed policy (`aws` undefined when AWS has none there), or an account's policy by
 * path and name; undefined when it is no policy ARN.
 */
function parseArn(arn: string): { aws: ManagedPolicy | undefined } | { accountId: string; path: string; name: string } | undefined {
  const m = POLICY_ARN.exec(arn);
  if (!m) return undefined;
  if (m[1] === 'aws') return { aws: managedPolicy(arn) };
  return { accountId: m[1]!, path: m[2]!, name: m[3]! };
}
