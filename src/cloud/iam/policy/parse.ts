/**
 * parsePolicy: a policy document's JSON text, checked as IAM checks it and compiled for evaluation. Every refusal is
 * CloudError('MalformedPolicyDocument', AWS's message), checked in AWS's order: syntax, version (managed policies),
 * legacy parsing, Sid, actions and resources present, resource formats, action vendors and names, principals.
 */
import { CloudError } from '../../errors.js';
import { knownAction } from './actions.js';
import { arnGlob } from './arn.js';
import { compileCondition, ConditionError, dateValue, parseOperator, valueText, type Condition } from './conditions.js';
import { glob } from './glob.js';
import { messages } from './messages.js';
import { template } from './template.js';
import type { Policy, PolicyKind, Principals, ResourcePattern, Statement } from './types.js';

export interface ParseOptions {
  /** A managed policy (CreatePolicy, CreatePolicyVersion): Version must be 2012-10-17. */
  managed?: boolean;
}

const TOP = new Set(['Version', 'Id', 'Statement']);
const FIELDS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal', 'Condition']);
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
const PRINCIPAL_TYPES = new Map([['AWS', 'AWS'], ['Service', 'SERVICE'], ['Federated', 'FEDERATED'], ['CanonicalUser', 'CANONICAL_USER']]);

type Json = Record<string, unknown>;

const malformed = (message: string) => new CloudError('MalformedPolicyDocument', message);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Json, k: string) => Object.hasOwn(o, k);
const strings = (v: unknown): string[] | undefined =>
  typeof v === 'string' ? [v] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v) : undefined;

/** The document's statements once its syntax is right; throws the syntax error otherwise. */
function syntax(json: string): { doc: Json; statements: Json[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw malformed(messages.syntax);
  }
  const bad = () => malformed(messages.syntax);
  if (!isObject(doc)) throw bad();
  for (const k of Object.keys(doc)) if (!TOP.has(k)) throw bad();
  if (has(doc, 'Version') && (typeof doc.Version !== 'string' || !VERSIONS.has(doc.Version))) throw bad();
  if (has(doc, 'Id') && typeof doc.Id !== 'string') throw bad();
  const st = doc.Statement;
  const statements = isObject(st) ? [st] : Array.isArray(st) ? st : undefined;
  if (!statements?.length || !statements.every(isObject)) throw bad();
  for (const s of statements) {
    for (const k of Object.keys(s)) if (!FIELDS.has(k)) throw bad();
    if ((has(s, 'Action') && has(s, 'NotAction')) || (has(s, 'Resource') && has(s, 'NotResource'))
      || (has(s, 'Principal') && has(s, 'NotPrincipal'))) throw bad();
    if (typeof s.Effect !== 'string' || !['allow', 'deny'].includes(s.Effect.toLowerCase())) throw bad();
    for (const k of ['Action', 'NotAction', 'Resource', 'NotResource']) if (has(s, k) && !strings(s[k])) throw bad();
    if (has(s, 'Sid') && typeof s.Sid !== 'string') throw bad();
    for (const k of ['Principal', 'NotPrincipal']) if (has(s, k) && !principalSyntax(s[k])) throw bad();
    if (has(s, 'Condition')) conditionSyntax(s.Condition);
  }
  return { doc, statements: statements };
}

function principalSyntax(p: unknown): boolean {
  if (p === '*') return true;
  if (!isObject(p)) return false;
  const keys = Object.keys(p);
  return keys.length > 0 && keys.every((k) => PRINCIPAL_TYPES.has(k) && strings(p[k]) !== undefined);
}

function conditionSyntax(c: unknown): void {
  if (!isObject(c)) throw malformed(messages.syntax);
  for (const op of Object.keys(c)) {
    const block = c[op];
    if (!isObject(block)) throw malformed(messages.syntax);
    const keys = Object.keys(block);
    if (keys.length && !parseOperator(op)) throw malformed(messages.syntax);
    for (const k of keys) {
      const v = block[k];
      const list = Array.isArray(v) ? v : [v];
      if (!list.every((x) => valueText(x) !== undefined)) throw malformed(messages.syntax);
    }
  }
}

const condValues = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).map((x) => valueText(x)!);

/** Parse and validate `json` for its use (`kind`); the result is immutable and meant to be cached by the caller. */
export function parsePolicy(json: string, kind: PolicyKind, options: ParseOptions = {}): Policy {
  if (typeof json !== 'string') throw malformed(messages.syntax);
  const { doc, statements } = syntax(json);
  const version = doc.Version as string | undefined;
  if (options.managed && version !== '2012-10-17') throw malformed(messages.version);
  const variables = version === '2012-10-17';

  // Legacy parsing: Effect in its exact case, dates that are dates, ARNs with all their parts.
  for (const s of statements) {
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed(messages.legacy);
    if (isObject(s.Condition)) {
      for (const op of Object.keys(s.Condition)) {
        const base = parseOperator(op)?.base;
        if (!base?.startsWith('Date')) continue;
        for (const v of Object.values(s.Condition[op] as Json)) if (condValues(v).some((d) => Number.isNaN(dateValue(d)))) throw malformed(messages.legacy);
      }
    }
    for (const k of ['Resource', 'NotResource']) for (const r of strings(s[k]) ?? []) if (r !== '*' && r.includes('::') && r.split(':').length < 6) throw malformed(messages.legacy);
  }

  const sids = new Set<string>();
  for (const s of statements) {
    const sid = s.Sid as string | undefined;
    if (!sid) continue;
    if (sids.has(sid)) throw malformed(messages.sidUnique);
    sids.add(sid);
  }
  if (kind !== 'resource') for (const sid of sids) if (!/^[0-9A-Za-z]*$/.test(sid)) throw malformed(messages.sidAlnum);

  for (const s of statements) {
    const a = strings(s.Action) ?? strings(s.NotAction);
    if (!a?.length) throw malformed(messages.noActions);
  }
  for (const s of statements) {
    if (kind === 'trust') {
      if (has(s, 'Resource')) throw malformed(messages.prohibited('Resource'));
      if (has(s, 'NotResource')) throw malformed(messages.prohibited('NotResource'));
      continue;
    }
    const r = strings(s.Resource) ?? strings(s.NotResource);
    if (!r?.length) throw malformed(messages.noResources);
  }
  if (kind !== 'trust') for (const s of statements) for (const r of strings(s.Resource) ?? strings(s.NotResource)!) checkResource(r);

  for (const s of statements) {
    for (const a of strings(s.Action) ?? strings(s.NotAction)!) checkActionVendor(a);
  }
  for (const s of statements) {
    for (const a of strings(s.Action) ?? strings(s.NotAction)!) {
      if (!knownAction(a)) throw malformed(messages.invalidAction);
      if (kind === 'trust' && a !== '*' && !a.toLowerCase().startsWith('sts:')) throw malformed(messages.trustActions);
    }
  }

  for (const s of statements) {
    const p = has(s, 'Principal') || has(s, 'NotPrincipal');
    if (kind === 'identity' && p) throw malformed(messages.principalInIdentity);
    if (kind !== 'identity' && !p) throw malformed(messages.missingPrincipal);
  }

  return {
    kind, version, id: doc.Id as string | undefined,
    statements: statements.map((s) => compileStatement(s, variables)),
  };
}

/**
 * The users and roles a trust or resource policy names by ARN (not accounts, not `*`, not sessions): IAM refuses a
 * document naming one that does not exist (`Invalid principal in policy: "AWS":"ARN"`, messages.invalidPrincipal),
 * which the caller, who has the directory, checks.
 */
export function namedPrincipals(policy: Policy): string[] {
  const out = new Set<string>();
  for (const s of policy.statements) {
    for (const p of [s.principal, s.notPrincipal]) {
      for (const a of p?.aws ?? []) if (a.startsWith('arn:aws:iam::')) out.add(a);
    }
  }
  return [...out];
}

function checkActionVendor(a: string): void {
  if (a === '*') return;
  const parts = a.split(':');
  if (parts.length === 1) throw malformed(messages.vendor);
  if (parts.length > 2) throw malformed(messages.oneColon);
  if (!/^[a-zA-Z0-9\-.]*$/.test(parts[0]!)) throw malformed(messages.vendorInvalid(parts[0]!));
}

function checkResource(r: string): void {
  if (r === '*') return;
  const colon = r.indexOf(':');
  if (colon < 0) throw malformed(messages.resourceFormat(r));
  const rest = r.slice(colon + 1).split(':');
  const partition = rest[0]!;
  if (partition !== 'aws') {
    const p = (k: number) => (rest[k] !== undefined && (rest[k] !== '' || rest.length > k + 1) ? rest[k] : '*');
    throw malformed(messages.partition(partition, `arn:${partition}:${p(1)}:${p(2)}:${p(3)}:${rest.length > 4 ? rest.slice(4).join(':') : '*'}`));
  }
  if (rest.length < 2) throw malformed(messages.resourceVendor);
  if (rest[1] === 'iam' && rest[2] !== undefined && rest[2] !== '') throw malformed(messages.iamRegion(r));
}

function principals(p: unknown): Principals {
  if (p === '*') return { any: true, aws: [], service: [], federated: [], canonicalUser: [] };
  const o = p as Json;
  const list = (k: string) => (has(o, k) ? strings(o[k])! : []);
  const aws = list('AWS').map((v) => checkAwsPrincipal(v));
  const service = list('Service').map((v) => {
    if (!/^[a-z0-9][a-z0-9.-]{0,200}\.amazonaws\.com(\.cn)?$/.test(v)) throw malformed(messages.invalidPrincipal('SERVICE', v));
    return v.toLowerCase();
  });
  const federated = list('Federated').map((v) => {
    if (!v || /\s/.test(v) || v.includes('*')) throw malformed(messages.invalidPrincipal('FEDERATED', v));
    return v;
  });
  const canonicalUser = list('CanonicalUser').map((v) => {
    if (!/^[0-9a-f]{64}$/.test(v)) throw malformed(messages.invalidPrincipal('CANONICAL_USER', v));
    return v;
  });
  if (!aws.length && !service.length && !federated.length && !canonicalUser.length) throw malformed(messages.noPrincipals);
  return { any: aws.includes('*'), aws: aws.filter((a) => a !== '*'), service, federated, canonicalUser };
}

const NAME = String.raw`[\w+=,.@-]{1,128}`;
const PATH = String.raw`(?:/[\x21-\x7e]{0,510})?/`;
const AWS_PRINCIPAL = [
  /^\d{12}$/,
  /^arn:aws:iam::\d{12}:root$/,
  new RegExp(String.raw`^arn:aws:iam::\d{12}:(?:user|role)${PATH}${NAME}$`),
  new RegExp(String.raw`^arn:aws:sts::\d{12}:assumed-role/${NAME}/[\w+=,.@-]{2,64}$`),
  new RegExp(String.raw`^arn:aws:sts::\d{12}:federated-user/${NAME}$`),
];

/** An AWS principal as written, or `*`; an account's root ARN is kept as its account id. */
function checkAwsPrincipal(v: string): string {
  if (v === '*') return v;
  if (v.length > 2048 || !AWS_PRINCIPAL.some((re) => re.test(v))) throw malformed(messages.invalidPrincipal('AWS', v));
  const root = /^arn:aws:iam::(\d{12}):root$/.exec(v);
  return root ? root[1]! : v;
}

function compileStatement(s: Json, variables: boolean): Statement {
  const resource = (list: string[] | undefined): ResourcePattern[] | undefined => list?.map((r) => {
    const t = template(r, variables);
    return t.fixed ? { template: t, fixed: arnGlob(t.fixed) } : { template: t };
  });
  const actions = (list: string[] | undefined) => list?.map((a) => glob(a.toLowerCase()));
  const conditions: Condition[] = [];
  if (isObject(s.Condition)) {
    for (const op of Object.keys(s.Condition)) {
      const block = s.Condition[op] as Json;
      for (const key of Object.keys(block)) {
        try {
          conditions.push(compileCondition(op, key, condValues(block[key]), variables));
        } catch (e) {
          if (!(e instanceof ConditionError)) throw e;
          throw malformed(e.kind === 'vendor' ? messages.vendor : e.kind === 'legacy' ? messages.legacy : messages.syntax);
        }
      }
    }
  }
  return {
    sid: typeof s.Sid === 'string' ? s.Sid : undefined,
    effect: s.Effect as 'Allow' | 'Deny',
    action: actions(strings(s.Action)),
    notAction: actions(strings(s.NotAction)),
    resource: resource(strings(s.Resource)),
    notResource: resource(strings(s.NotResource)),
    principal: has(s, 'Principal') ? principals(s.Principal) : undefined,
    notPrincipal: has(s, 'NotPrincipal') ? principals(s.NotPrincipal) : undefined,
    conditions,
  };
}
