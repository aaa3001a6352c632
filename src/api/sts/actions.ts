/**
 * STS's actions: who am I (GetCallerIdentity), temporary credentials for a role (AssumeRole) or for oneself
 * (GetSessionToken). Input checked here against STS's constraints; the decisions are the domain's
 * (src/cloud/iam/assume.ts, sessions.ts).
 */
import { CloudError } from '../../cloud/errors.js';
import { assumeRole } from '../../cloud/iam/assume.js';
import { arnOf, userIdOf } from '../../cloud/iam/identity.js';
import { MAX_ROOT_TOKEN_S, MAX_ROLE_DURATION_S, MAX_USER_TOKEN_S, MIN_DURATION_S, type Credentials } from '../../cloud/iam/sessions.js';
import type { QueryHandler } from '../query/endpoint.js';
import { ARN, count, EXTERNAL_ID, NAME, POLICY, range, TAG_KEY, TAG_VALUE, text } from './validate.js';

const MAX_POLICY_ARNS = 10;
const MAX_TAGS = 50;
/** GetSessionToken's default: 12 hours (root's sessions are held to one). */
const DEFAULT_TOKEN_S = 43_200;

const credentialsOut = (c: Credentials) => ({
  AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration,
});

/** Session tags: distinct keys (regardless of case), each key and value within STS's rules. */
function sessionTags(tags: { Key: string; Value: string }[] | undefined): Map<string, string> | undefined {
  if (!tags) return undefined;
  count(tags, 'tags', MAX_TAGS);
  const out = new Map<string, string>();
  const seen = new Set<string>();
  tags.forEach((t, i) => {
    text(t.Key, `tags.${i + 1}.member.key`, TAG_KEY);
    text(t.Value, `tags.${i + 1}.member.value`, TAG_VALUE);
    if (seen.has(t.Key.toLowerCase())) {
      throw new CloudError('InvalidParameterValue', 'Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    }
    seen.add(t.Key.toLowerCase());
    out.set(t.Key, t.Value);
  });
  return out;
}

export const stsActions: Record<string, QueryHandler> = {
  GetCallerIdentity: ({ principal }) => ({
    UserId: userIdOf(principal.identity), Account: principal.accountId, Arn: arnOf(principal.identity),
  }),

  AssumeRole: async ({ cloud, principal, input, sourceIp }) => {
    const i = input as {
      RoleArn: string; RoleSessionName: string; DurationSeconds?: number; ExternalId?: string; Policy?: string;
      PolicyArns?: { arn?: string }[]; Tags?: { Key: string; Value: string }[]; TransitiveTagKeys?: string[];
      SerialNumber?: string; TokenCode?: string; SourceIdentity?: string; ProvidedContexts?: unknown[];
    };
    text(i.RoleArn, 'roleArn', ARN);
    text(i.RoleSessionName, 'roleSessionName', NAME);
    range(i.DurationSeconds, 'durationSeconds', MIN_DURATION_S, MAX_ROLE_DURATION_S);
    text(i.ExternalId, 'externalId', EXTERNAL_ID);
    text(i.Policy, 'policy', POLICY);
    text(i.SourceIdentity, 'sourceIdentity', NAME);
    count(i.PolicyArns, 'policyArns', MAX_POLICY_ARNS);
    const policyArns = i.PolicyArns?.map((p, n) => {
      if (p.arn === undefined) throw new CloudError('ValidationError', `1 validation error detected: Value null at 'policyArns.${n + 1}.member.arn' failed to satisfy constraint: Member must not be null`);
      text(p.arn, `policyArns.${n + 1}.member.arn`, ARN);
      if (!/^arn:aws:iam::(\d{12}|aws):policy\//.test(p.arn)) throw new CloudError('ValidationError', `${p.arn} is not a valid managed policy ARN`);
      return p.arn;
    });
    const tags = sessionTags(i.Tags);
    count(i.TransitiveTagKeys, 'transitiveTagKeys', MAX_TAGS);
    for (const k of i.TransitiveTagKeys ?? []) {
      if (![...tags?.keys() ?? []].some((t) => t.toLowerCase() === k.toLowerCase())) {
        throw new CloudError('InvalidParameterValue', 'The specified transitive tag key must be included in the requested tags.');
      }
    }
    // pcloud has no MFA devices and trusts no context provider: what would need them cannot be validated.
    if (i.SerialNumber !== undefined || i.TokenCode !== undefined) {
      throw new CloudError('AccessDenied', 'MultiFactorAuthentication failed with invalid MFA one time pass code.');
    }
    if (i.ProvidedContexts?.length) throw new CloudError('InvalidParameterValue', 'ProvidedContexts: no context provider is trusted here.');
    const assumed = await assumeRole(cloud.iam, principal.identity, {
      roleArn: i.RoleArn, sessionName: i.RoleSessionName, region: principal.region,
      ...(i.DurationSeconds !== undefined ? { durationSeconds: i.DurationSeconds } : {}),
      ...(i.ExternalId !== undefined ? { externalId: i.ExternalId } : {}),
      ...(i.Policy !== undefined ? { policy: i.Policy } : {}),
      ...(policyArns ? { policyArns } : {}),
      ...(tags ? { tags } : {}),
      ...(sourceIp ? { sourceIp } : {}),
    });
    return {
      Credentials: credentialsOut(assumed.credentials),
      AssumedRoleUser: { AssumedRoleId: assumed.assumedRoleId, Arn: assumed.arn },
      ...(i.Policy !== undefined || policyArns?.length || tags?.size ? { PackedPolicySize: packedPercent(i.Policy, policyArns, tags) } : {}),
      ...(i.SourceIdentity !== undefined ? { SourceIdentity: i.SourceIdentity } : {}),
    };
  },

  GetSessionToken: async ({ cloud, principal, input }) => {
    const i = input as { DurationSeconds?: number; SerialNumber?: string; TokenCode?: string };
    range(i.DurationSeconds, 'durationSeconds', MIN_DURATION_S, MAX_USER_TOKEN_S);
    if (principal.temporary || principal.identity.kind === 'assumed-role') {
      throw new CloudError('AccessDenied', 'Cannot call GetSessionToken with session credentials');
    }
    if (i.SerialNumber !== undefined || i.TokenCode !== undefined) {
      throw new CloudError('AccessDenied', 'MultiFactorAuthentication failed with invalid MFA one time pass code.');
    }
    // Root's sessions last an hour at most: a longer request gets one hour, as on AWS.
    const asked = i.DurationSeconds ?? DEFAULT_TOKEN_S;
    const duration = principal.identity.kind === 'root' ? Math.min(asked, MAX_ROOT_TOKEN_S) : asked;
    return { Credentials: credentialsOut(await cloud.iam.sessions.mintFor(principal.identity, duration)) };
  },
};

/**
 * PackedPolicySize: the session policies and tags as a percentage of what a session may carry (AWS packs them into
 * the token; pcloud keeps them with the session, so the percentage is of the plain text's 2048 characters and 50 tags).
 */
function packedPercent(policy: string | undefined, arns: readonly string[] | undefined, tags: ReadonlyMap<string, string> | undefined): number {
  const chars = (policy?.length ?? 0) + (arns ?? []).reduce((n, a) => n + a.length, 0);
  return Math.min(100, Math.max(Math.ceil((chars / 2048) * 100), Math.ceil(((tags?.size ?? 0) / MAX_TAGS) * 100)));
}
