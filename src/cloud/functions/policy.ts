/**
 * Functions' resource policies (AddPermission, RemovePermission, GetPolicy): one per function and qualifier (an
 * alias or a version; '' the unqualified function), stored as the statements the policy document shows. Enforced:
 * another account may invoke a function, or call its AWS_IAM function URL, only where a statement allows it; the
 * owner's own calls need none (as with identity policies in AWS).
 */
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functionPolicies } from '../../db/tables.js';
import { type PolicyStatement } from '../../db/schema.js';
import { CloudError } from '../errors.js';
import type { FunctionRecords } from './records.js';
import { invalid } from './types.js';

/** What AddPermission gives. */
export interface PermissionInput {
  statementId: string;
  action: string;
  principal: string;
  sourceArn?: string;
  sourceAccount?: string;
  functionUrlAuthType?: string;
  principalOrgId?: string;
  revisionId?: string;
}

export const INVOKE = 'lambda:InvokeFunction';
export const INVOKE_URL = 'lambda:InvokeFunctionUrl';

const SID = /^([a-zA-Z0-9-_.]+)$/;
/** Actions a statement may allow: Lambda's, by name (`lambda:` and letters) or all of them. */
const ACTION = /^(lambda:[*]|lambda:[a-zA-Z]+)$/;
const ACCOUNT = /^\d{12}$/;
const ROOT = /^arn:aws:iam::(\d{12}):root$/;
/** A service principal (s3.amazonaws.com, events.amazonaws.com, …). */
const SERVICE = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$/;
const NOT_FOUND = 'The resource you requested does not exist.';

export class FunctionPolicies {
  constructor(private readonly db: Db, private readonly records: FunctionRecords) {}

  private where(accountId: string, fn: string, qualifier: string) {
    return and(eq(functionPolicies.accountId, accountId), eq(functionPolicies.functionName, fn), eq(functionPolicies.qualifier, qualifier));
  }

  /** The function's name and the policy's qualifier ('' unqualified or $LATEST), the qualifier existing. */
  private async target(accountId: string, ref: string, qualifier?: string): Promise<{ fn: string; qualifier: string; resource: string }> {
    const v = await this.records.get(accountId, ref, qualifier);
    const q = this.records.names.parse(accountId, ref, qualifier).qualifier;
    const key = q === undefined || q === '$LATEST' ? '' : q;
    return { fn: v.name, qualifier: key, resource: this.records.names.arn(accountId, v.name, key || undefined) };
  }

  private async row(accountId: string, fn: string, qualifier: string) {
    return (await this.db.select().from(functionPolicies).where(this.where(accountId, fn, qualifier)).limit(1))[0];
  }

  /** AddPermission: the statement added, as the policy shows it. */
  async add(accountId: string, ref: string, qualifier: string | undefined, p: PermissionInput): Promise<PolicyStatement> {
    const t = await this.target(accountId, ref, qualifier);
    if (!SID.test(p.statementId) || p.statementId.length > 100) {
      throw new CloudError('ValidationException', `1 validation error detected: Value '${p.statementId.slice(0, 200)}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)`);
    }
    if (!ACTION.test(p.action)) {
      throw new CloudError('ValidationException', `1 validation error detected: Value '${p.action.slice(0, 200)}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])`);
    }
    const statement: PolicyStatement = { Sid: p.statementId, Effect: 'Allow', Principal: principalOf(p.principal), Action: p.action, Resource: t.resource };
    const condition: Record<string, Record<string, string>> = Object.create(null) as Record<string, Record<string, string>>;
    if (p.sourceAccount !== undefined) {
      if (!ACCOUNT.test(p.sourceAccount)) throw invalid(`The SourceAccount ${p.sourceAccount.slice(0, 200)} is not an account id (12 digits).`);
      condition.StringEquals = { 'AWS:SourceAccount': p.sourceAccount };
    }
    if (p.functionUrlAuthType !== undefined) {
      if (p.functionUrlAuthType !== 'NONE' && p.functionUrlAuthType !== 'AWS_IAM') {
        throw new CloudError('ValidationException', `1 validation error detected: Value '${p.functionUrlAuthType.slice(0, 200)}' at 'functionUrlAuthType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]`);
      }
      condition.StringEquals = { ...condition.StringEquals, 'lambda:FunctionUrlAuthType': p.functionUrlAuthType };
    }
    if (p.principalOrgId !== undefined) {
      // Kept as AWS keeps it; no caller here belongs to an organization, so such a statement admits no one.
      if (!/^o-[a-z0-9]{10,32}$/.test(p.principalOrgId)) {
        throw new CloudError('ValidationException', `1 validation error detected: Value '${p.principalOrgId.slice(0, 200)}' at 'principalOrgID' failed to satisfy constraint: Member must satisfy regular expression pattern: ^o-[a-z0-9]{10,32}$`);
      }
      condition.StringEquals = { ...condition.StringEquals, 'aws:PrincipalOrgID': p.principalOrgId };
    }
    if (p.sourceArn !== undefined) {
      if (!/^arn:[^\0\s]{1,1024}$/.test(p.sourceArn)) throw invalid(`The SourceArn ${p.sourceArn.slice(0, 200)} is not an ARN.`);
      condition.ArnLike = { 'AWS:SourceArn': p.sourceArn };
    }
    if (Object.keys(condition).length) statement.Condition = { ...condition };
    const r = await this.row(accountId, t.fn, t.qualifier);
    if (p.revisionId !== undefined && p.revisionId !== (r?.revision ?? (await this.records.get(accountId, t.fn, t.qualifier || undefined)).revision)) {
      throw new CloudError('PreconditionFailedException', 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
    }
    if (r?.statements.some((s) => s.Sid === p.statementId)) {
      throw new CloudError('ResourceConflictException', 'The statement id (sid) provided already exists. Please choose a new statement id, or remove the existing statement.');
    }
    const statements = [...(r?.statements ?? []), statement];
    if (JSON.stringify(statements).length > 20 * 1024) {
      throw new CloudError('PolicyLengthExceededException', 'The final policy size (over 20480) is bigger than the limit (20480).');
    }
    if (r) await this.db.update(functionPolicies).set({ statements, revision: randomUUID() }).where(this.where(accountId, t.fn, t.qualifier));
    else await this.db.insert(functionPolicies).values({ accountId, functionName: t.fn, qualifier: t.qualifier, statements, revision: randomUUID() });
    return statement;
  }

  async remove(accountId: string, ref: string, qualifier: string | undefined, sid: string, revisionId?: string): Promise<void> {
    const t = await this.target(accountId, ref, qualifier);
    const r = await this.row(accountId, t.fn, t.qualifier);
    if (!r || !r.statements.some((s) => s.Sid === sid)) throw new CloudError('ResourceNotFoundException', 'Statement sid is not found in resource policy.');
    if (revisionId !== undefined && revisionId !== r.revision) {
      throw new CloudError('PreconditionFailedException', 'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id');
    }
    const statements = r.statements.filter((s) => s.Sid !== sid);
    if (statements.length) await this.db.update(functionPolicies).set({ statements, revision: randomUUID() }).where(this.where(accountId, t.fn, t.qualifier));
    else await this.db.delete(functionPolicies).where(this.where(accountId, t.fn, t.qualifier));
  }

  /** GetPolicy: the document as Lambda serializes it, and its revision (ResourceNotFoundException without one). */
  async get(accountId: string, ref: string, qualifier?: string): Promise<{ policy: string; revision: string }> {
    const t = await this.target(accountId, ref, qualifier);
    const r = await this.row(accountId, t.fn, t.qualifier);
    if (!r) throw new CloudError('ResourceNotFoundException', NOT_FOUND);
    return { policy: JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: r.statements }), revision: r.revision };
  }

  /**
   * May `caller` (another account) do `action` on the function (its policy for `qualifier`: '' unqualified)? Only a
   * statement naming the caller's account (or `*`), allowing that action (or lambda:*), whose conditions hold of a
   * direct call: none but a URL auth type that is this one. A SourceArn or SourceAccount is a service's call (a direct
   * call has neither), a PrincipalOrgID an organization's (none here), and a condition not known here admits no one.
   */
  async allows(accountId: string, fn: string, qualifier: string, caller: string, action: string, urlAuthType?: string): Promise<boolean> {
    const r = await this.row(accountId, fn, qualifier === '$LATEST' ? '' : qualifier);
    return Boolean(r?.statements.some((s) => {
      if (s.Action !== action && s.Action !== 'lambda:*') return false;
      const p = s.Principal;
      if (!(p === '*' || (typeof p === 'object' && 'AWS' in p && (p.AWS === '*' || ROOT.exec(p.AWS)?.[1] === caller)))) return false;
      const c = s.Condition;
      if (!c) return true;
      if (Object.keys(c).some((op) => op !== 'StringEquals')) return false;
      const eqs = c.StringEquals ?? {};
      if (Object.keys(eqs).some((k) => k !== 'lambda:FunctionUrlAuthType')) return false;
      return !Object.hasOwn(eqs, 'lambda:FunctionUrlAuthType') || eqs['lambda:FunctionUrlAuthType'] === urlAuthType;
    }));
  }

  /** A qualifier's policy goes with it (a deleted alias or version). */
  async deleteFor(accountId: string, fn: string, qualifier?: string): Promise<void> {
    const w = qualifier === undefined
      ? and(eq(functionPolicies.accountId, accountId), eq(functionPolicies.functionName, fn))
      : this.where(accountId, fn, qualifier);
    await this.db.delete(functionPolicies).where(w);
  }
}

/** AddPermission's Principal as the policy shows it: an account as its root, a service by name, or `*`. */
function principalOf(p: string): PolicyStatement['Principal'] {
  if (p === '*') return '*';
  if (ACCOUNT.test(p)) return { AWS: `arn:aws:iam::${p}:root` };
  if (ROOT.test(p)) return { AWS: p };
  if (SERVICE.test(p) && p.length <= 256) return { Service: p };
  throw invalid(`The provided principal was invalid. Please check the principal and try again.`);
}
