/**
 * AWS managed policies: the ones real configurations attach by ARN (`arn:aws:iam::aws:policy/…`), with AWS's
 * documents, ids, versions and dates. Read-only: they belong to no account and every account may attach them.
 */
import { createHash } from 'node:crypto';
import { MANAGED } from './documents.js';

export interface ManagedPolicy {
  readonly arn: string;
  readonly name: string;
  /** ANPA… */
  readonly id: string;
  readonly path: string;
  readonly description: string;
  /** The default version (`v3`). */
  readonly versionId: string;
  /** The default version's document, JSON text. */
  readonly document: string;
  readonly createDate: Date;
  /** When the default version was made. */
  readonly updateDate: Date;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A stable ANPA… id (AWS's shape: 17 characters of [A-Z2-7] after the prefix) for a policy whose real id is unknown. */
export function derivedPolicyId(name: string): string {
  const digest = createHash('sha256').update(`aws-managed-policy:${name}`).digest();
  let id = 'ANPA';
  for (let i = 0; i < 17; i++) id += BASE32[digest[i]! & 31];
  return id;
}

let byArn: Map<string, ManagedPolicy> | undefined;
let all: readonly ManagedPolicy[] | undefined;

function load(): Map<string, ManagedPolicy> {
  if (byArn) return byArn;
  all = MANAGED.map((m) => Object.freeze({
    arn: `arn:aws:iam::aws:policy${m.path}${m.name}`,
    name: m.name, id: m.id ?? derivedPolicyId(m.name), path: m.path, description: m.description, versionId: m.versionId,
    document: JSON.stringify(m.document),
    createDate: new Date(m.createDate), updateDate: new Date(m.updateDate),
  }));
  return (byArn = new Map(all.map((p) => [p.arn, p])));
}

/** The AWS managed policy with this ARN, if pcloud has it. */
export function managedPolicy(arn: string): ManagedPolicy | undefined {
  return load().get(arn);
}

/** Every AWS managed policy pcloud has, sorted by name. */
export function managedPolicies(): readonly ManagedPolicy[] {
  load();
  return all!;
}
