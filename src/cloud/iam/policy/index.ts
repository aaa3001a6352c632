/**
 * IAM's policy language, a pure library: parse and validate documents (parse.ts, AWS's MalformedPolicyDocument
 * messages), evaluate identity policies for a request (evaluate.ts: explicit Deny > Allow > implicit deny, per
 * resource), trust policies for AssumeRole (trust.ts), the action catalogue (actions.ts), the size quotas (limits.ts),
 * and AWS's managed policies (../managed/). No database, no API: callers cache parsed policies.
 */
export { parsePolicy, namedPrincipals, type ParseOptions } from './parse.js';
export { cachedPolicy } from './cache.js';
export { evaluate, explain, type EvaluationResult, type Explanation } from './evaluate.js';
export { trustAllows, type TrustCaller } from './trust.js';
export { knownAction, servedService, catalogueActions, actionFor } from './actions.js';
export { POLICY_SIZE, policySize } from './limits.js';
export { messages as policyMessages } from './messages.js';
export type { Policy, PolicyKind, Statement, Principals } from './types.js';
export { managedPolicy, managedPolicies, type ManagedPolicy } from '../managed/index.js';
