/**
 * What IAM's and STS's actions ask of IAM (the Query endpoint asks it right after reading the input): `iam:Action` on
 * the user, role, instance profile or policy the input names (with its path, as its ARN has it), on the key's user for
 * GetAccessKeyLastUsed, `*` where it names none; `sts:AssumeRole` on the role; nothing for GetCallerIdentity and
 * GetSessionToken, which AWS never refuses.
 */
import { CloudError } from '../../cloud/errors.js';
import type { EntityKind } from '../../cloud/iam/entities.js';
import type { AccessRequest } from '../../cloud/iam/authorize.js';
import { arnOf } from '../../cloud/iam/identity.js';
import { isIamName } from '../../cloud/iam/names.js';
import type { QueryAccess } from './endpoint.js';

/** A path IAM could have (a CreateX's other Path is refused by the action itself). */
const PATH = /^\/(?:[\x21-\x7e]{0,510}\/)?$/;
const ARN_MAX = 2048;

/** The input member naming the resource, in the order AWS authorizes on (a profile's role is the profile's business). */
const NAMED: readonly (readonly [string, EntityKind])[] = [
  ['InstanceProfileName', 'instance-profile'], ['UserName', 'user'], ['RoleName', 'role'],
];

/** The action that creates an entity of the kind: its ARN's path is the input's Path. */
const CREATES = new Map<string, EntityKind>([
  ['CreateUser', 'user'], ['CreateRole', 'role'], ['CreateInstanceProfile', 'instance-profile'], ['CreatePolicy', 'policy'],
]);

/** Actions that act on the calling user when no UserName is given. */
const ON_SELF = new Set(['GetUser', 'CreateAccessKey', 'ListAccessKeys', 'UpdateAccessKey', 'DeleteAccessKey']);

const text = (input: Record<string, unknown>, member: string): string | undefined => {
  const v = input[member];
  return typeof v === 'string' ? v : undefined;
};

/** The ARN of whose key the account's access key `id` is (a user's, or the root's), if the account has it. */
async function keyOwnerArn(cloud: Parameters<QueryAccess>[3], accountId: string, id: string | undefined): Promise<string | undefined> {
  if (id === undefined) return undefined;
  try {
    const k = await cloud.iam.keys.find(accountId, id);
    return k.userName === null ? `arn:aws:iam::${accountId}:root` : (await cloud.iam.entityArn(accountId, 'user', k.userName));
  } catch (err) {
    if (err instanceof CloudError) return undefined;
    throw err;
  }
}

export const iamAccess: QueryAccess = async (action, input, principal, cloud) => {
  const req = (arn: string): AccessRequest => {
    const policyArn = text(input, 'PolicyArn');
    const context = policyArn !== undefined && policyArn.length <= ARN_MAX && /Policy$/.test(action) && /^(Attach|Detach)/.test(action)
      ? new Map([['iam:PolicyARN', policyArn]]) : undefined;
    return { action: `iam:${action}`, resources: [{ arn }], ...(context ? { context } : {}) };
  };
  const acct = principal.accountId;
  const creates = CREATES.get(action);
  const path = text(input, 'Path');
  const createdPath = path !== undefined && PATH.test(path) ? path : '/';
  for (const [member, kind] of NAMED) {
    const name = text(input, member);
    if (name === undefined) continue;
    if (!isIamName(name)) return req('*');
    const asked = req(await cloud.iam.entityArn(acct, kind, name, creates === kind ? createdPath : undefined));
    const role = text(input, 'RoleName');
    // A role put in a profile is passed to EC2 (whose instances get its credentials): iam:PassRole on it, as AWS asks.
    if (action === 'AddRoleToInstanceProfile' && role !== undefined && isIamName(role)) {
      return [asked, { action: 'iam:PassRole', resources: [{ arn: await cloud.iam.entityArn(acct, 'role', role) }], context: new Map([['iam:PassedToService', 'ec2.amazonaws.com']]) }];
    }
    // A user renamed or moved: the requester needs the permission on the source and on the target, as AWS says.
    if (action === 'UpdateUser' && kind === 'user') {
      const newName = text(input, 'NewUserName') ?? name;
      const newPath = text(input, 'NewPath');
      if (newName === name && newPath === undefined) return asked;
      const stored = await cloud.iam.entityArn(acct, 'user', name);
      const path = newPath ?? stored.slice(`arn:aws:iam::${acct}:user`.length, stored.length - name.length);
      return [asked, req(isIamName(newName) && PATH.test(path) ? (await cloud.iam.entityArn(acct, 'user', newName, path)) : '*')];
    }
    return asked;
  }
  if (action === 'GetAccessKeyLastUsed') {
    // On the key's user, as AWS (the root's keys: on the account's root).
    const owner = await keyOwnerArn(cloud, acct, text(input, 'AccessKeyId'));
    if (owner) return req(owner);
  }
  const policyArn = text(input, 'PolicyArn');
  if (policyArn !== undefined) return req(policyArn.length <= ARN_MAX && policyArn.startsWith('arn:') ? policyArn : '*');
  const policyName = text(input, 'PolicyName');
  if (creates === 'policy' && policyName !== undefined && isIamName(policyName)) return req(await cloud.iam.entityArn(acct, 'policy', policyName, createdPath));
  if (ON_SELF.has(action) && principal.identity.kind === 'user') return req(arnOf(principal.identity));
  return req('*');
};

/** IAM's writes: every action but reads may change what someone is allowed. */
export const iamChanges = (action: string) => !/^(Get|List|Generate|Simulate)/.test(action);

/**
 * STS asks no permission for who-am-I and session tokens (as AWS); AssumeRole asks sts:AssumeRole on the role in its
 * own turn, after the role's trust policy (src/cloud/iam/assume.ts).
 */
const STS_OWN = new Set(['GetCallerIdentity', 'GetSessionToken', 'AssumeRole']);

export const stsAccess: QueryAccess = (action) => (STS_OWN.has(action) ? undefined : { action: `sts:${action}`, resources: [{ arn: '*' }] });
