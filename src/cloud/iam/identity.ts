/**
 * Who signed a request: the account's root, one of its IAM users, or a session of one of its roles (STS AssumeRole,
 * an instance profile, a function's role). Every access key resolves to one (src/cloud/accounts.ts for long-term keys,
 * src/cloud/iam/sessions.ts for temporary ones), and the policy evaluation (authorize.ts) decides by it.
 */
export type Identity =
  | { kind: 'root'; accountId: string }
  | { kind: 'user'; accountId: string; name: string; /** AIDA… */ id: string; path: string }
  | {
    kind: 'assumed-role'; accountId: string; roleName: string; /** AROA… */ roleId: string; path: string;
    sessionName: string;
  };

export const rootIdentity = (accountId: string): Identity => ({ kind: 'root', accountId });

/** The identity's ARN, as GetCallerIdentity and AWS's denial messages name it. */
export function arnOf(i: Identity): string {
  switch (i.kind) {
    case 'root': return `arn:aws:iam::${i.accountId}:root`;
    case 'user': return `arn:aws:iam::${i.accountId}:user${i.path}${i.name}`;
    case 'assumed-role': return `arn:aws:sts::${i.accountId}:assumed-role/${i.roleName}/${i.sessionName}`;
  }
}

/** aws:PrincipalArn: the identity's ARN, but a role session's is its role's (as AWS gives it to conditions). */
export function principalArnOf(i: Identity): string {
  return i.kind === 'assumed-role' ? `arn:aws:iam::${i.accountId}:role${i.path}${i.roleName}` : arnOf(i);
}

/** GetCallerIdentity's UserId: the account for root, the user's id, `ROLEID:session` for a role session. */
export function userIdOf(i: Identity): string {
  switch (i.kind) {
    case 'root': return i.accountId;
    case 'user': return i.id;
    case 'assumed-role': return `${i.roleId}:${i.sessionName}`;
  }
}
