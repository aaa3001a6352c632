/**
 * A parsed policy document: what parsePolicy returns, evaluate and trustAllows read. Immutable once parsed (callers
 * cache it): every pattern is compiled, every key lower-cased, every map keyed by user input is a Map.
 */
import type { Glob } from './glob.js';
import type { ArnGlob } from './arn.js';
import type { Template } from './template.js';
import type { Condition } from './conditions.js';

/** Where a document is used: attached to a user or role (identity), a role's trust policy, a resource's policy. */
export type PolicyKind = 'identity' | 'trust' | 'resource';

/** A resource pattern: fixed (compiled once) or naming policy variables (resolved per request). */
export interface ResourcePattern {
  readonly template: Template;
  /** Present when the pattern names no variable. */
  readonly fixed?: ArnGlob;
}

/** Principal / NotPrincipal: `"*"` (everyone), or the named ones by type. */
export interface Principals {
  readonly any: boolean;
  /** Account ids (for `ACCOUNT` and `arn:aws:iam::ACCOUNT:root`), user/role/session ARNs, or `*`. */
  readonly aws: readonly string[];
  /** Service principals in lower case (`lambda.amazonaws.com`). */
  readonly service: readonly string[];
  readonly federated: readonly string[];
  readonly canonicalUser: readonly string[];
}

export interface Statement {
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  /** Lower-cased action patterns; exactly one of action / notAction. */
  readonly action?: readonly Glob[];
  readonly notAction?: readonly Glob[];
  readonly resource?: readonly ResourcePattern[];
  readonly notResource?: readonly ResourcePattern[];
  readonly principal?: Principals;
  readonly notPrincipal?: Principals;
  /** AND'd: every one must hold. */
  readonly conditions: readonly Condition[];
}

export interface Policy {
  readonly kind: PolicyKind;
  /** `2012-10-17`, `2008-10-17`, or undefined when the document has none (as 2008-10-17: no policy variables). */
  readonly version?: string;
  readonly id?: string;
  readonly statements: readonly Statement[];
}
