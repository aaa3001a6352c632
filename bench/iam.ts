/**
 * (k) IAM policy evaluation on the hot path: the time evaluate() adds to one request for a user with a realistic set
 * of parsed (cached) policies — AWS's ReadOnlyAccess and AmazonEC2FullAccess, an inline policy with conditions
 * (region, instance type, source address), a Deny on terminating instances tagged env=prod, one with policy
 * variables — against the baseline of the account's root (decide() allows without evaluating), same requests, same
 * run. Target: at most 0.1 ms added per request. In-process and CPU only: no server, no database.
 */
import { decide } from '../src/cloud/iam/decide.js';
import { rootIdentity } from '../src/cloud/iam/identity.js';
import { evaluate, managedPolicy, parsePolicy, type Policy } from '../src/cloud/iam/policy/index.js';
import type { AccessRequest } from '../src/cloud/iam/authorize.js';
import { round, summary } from './lib.js';

const A = '123456789012';
const inst = (n: number) => `arn:aws:ec2:us-east-1:${A}:instance/i-${n.toString(16).padStart(17, '0')}`;

/** The policy set of a typical IAM user or role, parsed once as callers cache them. */
export function benchPolicies(): Policy[] {
  const managed = (name: string) => parsePolicy(managedPolicy(`arn:aws:iam::aws:policy/${name}`)!.document, 'identity', { managed: true });
  const inline = (statements: unknown[]) => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), 'identity');
  return [
    managed('ReadOnlyAccess'),
    managed('AmazonEC2FullAccess'),
    inline([
      { Sid: 'RunSmall', Effect: 'Allow', Action: ['ec2:RunInstances', 'ec2:CreateTags'], Resource: '*',
        Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' }, StringLike: { 'ec2:InstanceType': ['t3.*', 't2.*'] }, IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.168.0.0/16'] } } },
      { Sid: 'Lambda', Effect: 'Allow', Action: ['lambda:InvokeFunction', 'lambda:Get*'], Resource: `arn:aws:lambda:*:${A}:function:app-*` },
    ]),
    inline([{ Sid: 'KeepProd', Effect: 'Deny', Action: ['ec2:TerminateInstances', 'ec2:StopInstances'], Resource: '*', Condition: { StringEquals: { 'ec2:ResourceTag/env': 'prod' } } }]),
    inline([{ Sid: 'OwnKeys', Effect: 'Allow', Action: ['iam:*AccessKey*', 'iam:GetUser'], Resource: `arn:aws:iam::${A}:user/\${aws:username}` }]),
  ];
}

/** The requests: reads, a launch with its condition keys, terminations of tagged instances, a user's own keys. */
export function benchRequests(): AccessRequest[] {
  const context = new Map<string, string | readonly string[]>([
    ['aws:SourceIp', '10.1.2.3'], ['aws:RequestedRegion', 'us-east-1'], ['aws:username', 'alice'], ['aws:userid', 'AIDAEXAMPLEEXAMPLE01'],
    ['aws:PrincipalArn', `arn:aws:iam::${A}:user/alice`], ['aws:PrincipalAccount', A], ['aws:SecureTransport', 'true'], ['aws:CurrentTime', '2026-12-02T04:00:00Z'],
  ]);
  const withType = new Map(context).set('ec2:InstanceType', 't3.micro');
  const tagged = (n: number, env: string) => ({ arn: inst(n), tags: new Map([['env', env], ['Name', `web-${n}`]]) });
  return [
    { action: 'ec2:DescribeInstances', resources: [{ arn: '*' }], context },
    { action: 'ec2:RunInstances', resources: [{ arn: `arn:aws:ec2:us-east-1:${A}:instance/*` }, { arn: 'arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0' }], context: withType },
    { action: 'ec2:TerminateInstances', resources: [tagged(1, 'dev'), tagged(2, 'dev'), tagged(3, 'prod')], context },
    { action: 'lambda:InvokeFunction', resources: [{ arn: `arn:aws:lambda:us-east-1:${A}:function:app-orders` }], context },
    { action: 'iam:CreateAccessKey', resources: [{ arn: `arn:aws:iam::${A}:user/alice` }], context },
    { action: 'iam:CreateUser', resources: [{ arn: `arn:aws:iam::${A}:user/bob` }], context },
  ];
}

/** Mean nanoseconds per request of `fn` over the requests, per batch; the batches' summary. */
function measure(requests: readonly AccessRequest[], batches: number, perBatch: number, fn: (r: AccessRequest) => unknown): ReturnType<typeof summary> {
  const per: number[] = [];
  let sink = 0;
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) if (fn(requests[i % requests.length]!)) sink++;
    per.push(Number(process.hrtime.bigint() - start) / perBatch);
  }
  if (sink < 0) console.log(sink);
  return summary(per, 1);
}

export function benchIam(opts: { batches?: number; perBatch?: number } = {}) {
  const batches = opts.batches ?? 200;
  const perBatch = opts.perBatch ?? 2000;
  const policies = benchPolicies();
  const requests = benchRequests();
  const root = rootIdentity(A);
  const decisions = requests.map((r) => `${r.action}: ${evaluate(policies, r)}`);
  // Warm both paths (JIT) before measuring.
  measure(requests, 20, perBatch, (r) => evaluate(policies, r));
  measure(requests, 20, perBatch, (r) => decide(root, r).allowed);
  const baselineNs = measure(requests, batches, perBatch, (r) => decide(root, r).allowed);
  const evaluateNs = measure(requests, batches, perBatch, (r) => evaluate(policies, r));
  const addedMs = { p50: round((evaluateNs.p50 - baselineNs.p50) / 1e6, 5), p99: round((evaluateNs.p99 - baselineNs.p99) / 1e6, 5) };
  return {
    policies: policies.length,
    statements: policies.reduce((n, p) => n + p.statements.length, 0),
    requests: requests.length,
    decisions,
    perRequestNs: { baselineRoot: baselineNs, evaluate: evaluateNs },
    addedMs,
    target: { limitMs: 0.1, met: addedMs.p99 <= 0.1 },
  };
}
