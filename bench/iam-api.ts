/**
 * Issue 16's hot-path target, end to end: what IAM's decision adds to a request. EC2 DescribeInstances and Lambda
 * GetFunction, signed by the account's root (never evaluated) and by an IAM user with 3 attached policies (AWS's
 * AmazonEC2ReadOnlyAccess and AWSLambda_ReadOnlyAccess, and a customer policy with a Deny and a condition), through the
 * whole app (SigV4, routing, authorization, the handler) in-process, alternating, in the same run; and the
 * authorization step alone. Target: ≤ 0.1 ms added per request (median).
 *
 * `node dist/bench/iam-api.js` (after `npm run build`), or benchIamApi() from the runner. Sizes: BENCH_IAM_N (2000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import aws4 from 'aws4';
import { createApp } from '../src/api/server.js';
import { ec2AccessRequest } from '../src/api/ec2/access.js';
import { Query } from '../src/api/ec2/query.js';
import { Cloud } from '../src/cloud/index.js';
import { accessKeys, iamUsers } from '../src/db/schema.js';
import { run } from '../src/host/exec.js';
import { round, summary, table, writeResult, type Creds } from './lib.js';

const ACCOUNT = '123456789012';
const HOST = 'bench.pcloud';

interface Call { method: string; path: string; body: string; service: string; headers: Record<string, string> }

const ec2Describe: Call = {
  method: 'POST', path: '/', body: 'Action=DescribeInstances&Version=2016-11-15', service: 'ec2',
  headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
};
const lambdaGet: Call = { method: 'GET', path: '/2015-03-31/functions/bench-fn', body: '', service: 'lambda', headers: {} };

/** The request as the app gets it, freshly signed (a signature is per request: the same date, the same work). */
function request(call: Call, creds: Creds): Request {
  const signed = aws4.sign({ host: HOST, method: call.method, path: call.path, body: call.body || undefined, service: call.service, region: 'us-east-1', headers: { ...call.headers } }, creds);
  return new Request(`http://${HOST}${call.path}`, {
    method: call.method, headers: signed.headers as Record<string, string>, body: call.method === 'GET' ? undefined : call.body,
  });
}

/** Per-request milliseconds of `n` requests of each signer, alternating (so drift hits both alike). */
async function measure(fetch: (r: Request) => Promise<Response>, call: Call, signers: Record<string, Creds>, n: number, expect: Record<string, number>) {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(signers).map((k) => [k, []]));
  for (let i = 0; i < n + 50; i++) {
    for (const [who, creds] of Object.entries(signers)) {
      const req = request(call, creds);
      const t0 = process.hrtime.bigint();
      const res = await fetch(req);
      await res.arrayBuffer();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.status !== expect[who]) throw new Error(`${call.service} as ${who}: ${res.status}, expected ${expect[who]}`);
      if (i >= 50) times[who]!.push(ms);
    }
  }
  return times;
}

const median = (v: number[]) => summary(v, 4).p50;

export async function benchIamApi(opts: { n?: number } = {}) {
  const n = opts.n ?? Number(process.env.BENCH_IAM_N ?? 2000);
  const dataDir = mkdtempSync(join(tmpdir(), 'pcloud-bench-iam-'));
  const cloud = await Cloud.open({ dataDir });
  try {
    const root = await cloud.accounts.putKey({ accessKeyId: 'PCLDBENCHIAMROOT0001', secretAccessKey: 'bench-root', accountId: ACCOUNT });
    await cloud.db.insert(iamUsers).values({ accountId: ACCOUNT, name: 'bench', userId: 'AIDABENCHBENCHBENCH2', path: '/', createdAt: Date.now() });
    const user = { accessKeyId: 'AKIABENCHIAMUSER0001', secretAccessKey: 'bench-user' };
    await cloud.db.insert(accessKeys).values({ ...user, accountId: ACCOUNT, userName: 'bench', status: 'Active', createdAt: Date.now() });
    const own = await cloud.iam.policies.create(ACCOUNT, {
      name: 'bench-guard', path: '/', document: JSON.stringify({
        Version: '2012-10-17', Statement: [
          { Effect: 'Deny', Action: 'ec2:TerminateInstances', Resource: '*', Condition: { StringEquals: { 'ec2:ResourceTag/env': 'prod' } } },
          { Effect: 'Allow', Action: ['ec2:Describe*', 'lambda:Get*'], Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': ['0.0.0.0/0', '::/0'] } } },
        ],
      }),
    });
    for (const arn of ['arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess', 'arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess', own.arn]) await cloud.iam.policies.attach(ACCOUNT, 'user', 'bench', arn);
    const app = createApp(cloud);
    const fetch = async (r: Request) => app.fetch(r);
    const signers = { root, user };
    const ec2 = await measure(fetch, ec2Describe, signers, n, { root: 200, user: 200 });
    // No such function: the same path for both (routing, authorization, the lookup that finds nothing).
    const lambda = await measure(fetch, lambdaGet, signers, n, { root: 404, user: 404 });

    // The decision alone: building the request and evaluating it, as handleEc2 does for the user.
    const principal = { accountId: ACCOUNT, accessKeyId: user.accessKeyId, region: 'us-east-1', service: 'ec2', identity: (await cloud.iam.findKey(user.accessKeyId))!.identity! };
    const q = Query.parse(ec2Describe.body);
    const decide: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const d = await cloud.iam.authorize(principal.identity, await ec2AccessRequest(cloud, principal, { sourceIp: '127.0.0.1', secure: false }, 'DescribeInstances', q));
      decide.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (!d.allowed) throw new Error('the bench user may not describe');
    }
    const result = {
      requests: n,
      ec2DescribeInstances: { rootMs: median(ec2.root!), userMs: median(ec2.user!), addedMs: round(median(ec2.user!) - median(ec2.root!), 4) },
      lambdaGetFunction: { rootMs: median(lambda.root!), userMs: median(lambda.user!), addedMs: round(median(lambda.user!) - median(lambda.root!), 4) },
      authorizeOnlyMs: summary(decide, 4),
      targetAddedMs: 0.1,
    };
    return result;
  } finally {
    await cloud.close();
    // The real host's storage pool is mounted under the data dir (as bench/describe.ts leaves it): unmounted first.
    await run('umount', [join(dataDir, 'pool')], { reject: false });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await benchIamApi();
  console.log(table([
    ['request', 'root p50 ms', 'IAM user (3 policies) p50 ms', 'added ms'],
    ['EC2 DescribeInstances', r.ec2DescribeInstances.rootMs, r.ec2DescribeInstances.userMs, r.ec2DescribeInstances.addedMs],
    ['Lambda GetFunction', r.lambdaGetFunction.rootMs, r.lambdaGetFunction.userMs, r.lambdaGetFunction.addedMs],
    ['authorize() alone', '', r.authorizeOnlyMs.p50, r.authorizeOnlyMs.p50],
  ]));
  console.log(`written to ${writeResult('iam-api', r)}`);
}
