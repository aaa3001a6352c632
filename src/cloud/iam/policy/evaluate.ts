/**
 * Identity-policy evaluation, as AWS's logic has it for one account: an explicit Deny in any statement that applies
 * wins; otherwise the request is allowed when, for every resource it acts on, some Allow applies; otherwise it is
 * implicitly denied. A statement applies when its Action (or NotAction), its Resource (or NotResource) and every one
 * of its conditions match. Principals are not read here (trust.ts reads them): pass identity policies.
 */
import type { AccessRequest } from '../authorize.js';
import { arnGlob, arnMatch, arnParts } from './arn.js';
import { holds } from './conditions.js';
import { RequestContext } from './context.js';
import { globMatch } from './glob.js';
import { resolve, type Lookup } from './template.js';
import type { Policy, ResourcePattern, Statement } from './types.js';

export type EvaluationResult = 'allow' | 'deny' | 'implicit-deny';

export interface Explanation {
  result: EvaluationResult;
  /** The resource denied (explicitly, or not allowed), when not allowed. */
  resource?: string;
  /** The Deny statement's Sid, when it has one. */
  sid?: string;
}

const STAR = [{ arn: '*' }] as const;

/** Whether the statement names the (lower-cased) action. */
export function actionApplies(s: Statement, action: string): boolean {
  if (s.action) {
    for (const g of s.action) if (globMatch(g, action)) return true;
    return false;
  }
  for (const g of s.notAction!) if (globMatch(g, action)) return false;
  return true;
}

function patternMatches(p: ResourcePattern, arn: string, parts: string[] | undefined, lookup: Lookup): boolean {
  if (p.fixed) return arnMatch(p.fixed, arn, parts);
  const g = resolve(p.template, lookup);
  return g !== undefined && arnMatch(arnGlob(g), arn, parts);
}

function resourceApplies(s: Statement, arn: string, parts: string[] | undefined, lookup: Lookup): boolean {
  if (s.resource) {
    for (const p of s.resource) if (patternMatches(p, arn, parts, lookup)) return true;
    return false;
  }
  if (!s.notResource) return true;
  for (const p of s.notResource) if (patternMatches(p, arn, parts, lookup)) return false;
  return true;
}

/** Whether every condition of the statement holds. */
export function conditionsHold(s: Statement, lookup: Lookup): boolean {
  for (const c of s.conditions) if (!holds(c, lookup(c.key), lookup)) return false;
  return true;
}

/** The decision and why: which resource was refused, by which Deny. */
export function explain(policies: readonly Policy[], req: AccessRequest): Explanation {
  const action = req.action.toLowerCase();
  const resources = req.resources.length ? req.resources : STAR;
  const relevant: Statement[] = [];
  for (const p of policies) for (const s of p.statements) if (actionApplies(s, action)) relevant.push(s);
  if (!relevant.length) return { result: 'implicit-deny', resource: resources[0].arn };
  const ctx = new RequestContext(req.context);
  let notAllowed: string | undefined;
  for (const r of resources) {
    const parts = arnParts(r.arn);
    const lookup = ctx.forResource('tags' in r ? r.tags : undefined);
    let allowed = false;
    for (const s of relevant) {
      if (allowed && s.effect === 'Allow') continue;
      if (!resourceApplies(s, r.arn, parts, lookup) || !conditionsHold(s, lookup)) continue;
      if (s.effect === 'Deny') return { result: 'deny', resource: r.arn, sid: s.sid };
      allowed = true;
    }
    if (!allowed) notAllowed ??= r.arn;
  }
  return notAllowed === undefined ? { result: 'allow' } : { result: 'implicit-deny', resource: notAllowed };
}

/** Explicit Deny > Allow > implicit deny, over every resource the request acts on. */
export function evaluate(policies: readonly Policy[], req: AccessRequest): EvaluationResult {
  return explain(policies, req).result;
}
