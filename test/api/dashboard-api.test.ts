/**
 * The web dashboard (src/api/dashboard) over the fake host: a presigned URL (as `pcloud dashboard` prints it) begins a
 * session and nothing else does (unsigned, expired, tampered: refused; a forged cookie reads nothing); the state shows
 * the signer's account only, each part as its identity may see it (a user without ec2:DescribeInstances sees no
 * instance, the hosts are the operator's root's); a deleted key ends its session at once; hostile Name tags come back
 * as the very text written, inside JSON, and the page and script carry no data at all (built with textContent), under
 * a strict Content-Security-Policy, no framing, no caching.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { eq } from 'drizzle-orm';
import { presignedDashboardUrl } from '../../src/cli/dashboard.js';
import type { DashboardState } from '../../src/api/dashboard/state.js';
import { DASHBOARD_PAGE } from '../../src/api/dashboard/page.js';
import { DASHBOARD_SCRIPT } from '../../src/api/dashboard/script.js';
import { accessKeys } from '../../src/db/schema.js';
import { startApi, until, type TestApi } from '../support/api.js';
import { doc, userWithKey } from '../support/iam-access.js';
import { lambdaRole } from '../support/roles.js';
import { HOSTILE } from '../support/hostile.js';

let api: TestApi;
const ME = '111111111111';
const NAMES = ['<script>alert(1)</script>', `"quoted" 'single' \`back\``, '<img src=x onerror=alert(1)>', HOSTILE.unicode!, 'rtl \u202e override, zero\u200bwidth', '&amp; &lt; </td></tr>'];
const mine: string[] = [];
let theirs: string;

beforeAll(async () => {
  api = await startApi();
  for (const name of NAMES) {
    const r = await api.ec2.send(new RunInstancesCommand({
      ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: name }] }],
    }));
    mine.push(r.Instances![0]!.InstanceId!);
  }
  theirs = (await api.ec2Other.send(new RunInstancesCommand({
    ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'theirs' }] }],
  }))).Instances![0]!.InstanceId!;
  const lambda = new LambdaClient({ endpoint: api.endpoint, region: 'us-east-1', credentials: api.key, maxAttempts: 1 });
  await lambda.send(new CreateFunctionCommand({
    FunctionName: 'hello_fn-1', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: await lambdaRole(api.endpoint, api.key),
    Code: { ZipFile: Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4]), Buffer.alloc(60, 1)]) }, Tags: { 'pcloud:invoke-mode': 'warm' },
  }));
  await lambda.send(new InvokeCommand({ FunctionName: 'hello_fn-1', Payload: Buffer.from('{}') }));
  await lambda.send(new InvokeCommand({ FunctionName: 'hello_fn-1', Payload: Buffer.from('{}') }));
  // And one nginx served (a function URL), reported as src/host/invocation-log.ts reads it: a cold start.
  api.cloud.functions.nginxInvoked({ accountId: ME, name: 'hello_fn-1', mode: 'warm', status: 200, seconds: 0.01, coldStart: true });
});
afterAll(() => api?.close());

/** Sign in with a presigned URL: the session cookie, or the refusal. */
async function signIn(url: string): Promise<{ status: number; cookie?: string; location: string | null; text: string; headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual' });
  const set = res.headers.get('set-cookie');
  return { status: res.status, cookie: set?.split(';')[0], location: res.headers.get('location'), text: await res.text(), headers: res.headers };
}

const get = (path: string, cookie?: string) => fetch(`${api.endpoint}${path}`, { headers: cookie ? { cookie } : {}, redirect: 'manual' });

async function stateOf(cookie: string): Promise<DashboardState> {
  const res = await get('/pcloud/dashboard/state', cookie);
  expect(res.status).toBe(200);
  return await res.json() as DashboardState;
}

describe('signing in', () => {
  it('a presigned URL begins a session (an HttpOnly cookie) and leads to the page without its signature', async () => {
    const r = await signIn(presignedDashboardUrl(api.endpoint, api.key, 'us-east-1'));
    expect(r.status).toBe(303);
    expect(r.location).toBe('/pcloud/dashboard');
    const set = r.headers.get('set-cookie')!;
    expect(set).toMatch(/^pcloud_dashboard=[A-Za-z0-9_.-]+; Path=\/pcloud\/dashboard; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    const page = await get('/pcloud/dashboard', r.cookie);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(DASHBOARD_PAGE);
  });

  it('refuses an unsigned request, an expired URL, a tampered one, and a forged or foreign cookie', async () => {
    const none = await get('/pcloud/dashboard');
    expect(none.status).toBe(401);
    expect(await none.text()).toContain('pcloud dashboard');
    const url = presignedDashboardUrl(api.endpoint, api.key, 'us-east-1', 1);
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await signIn(url);
    expect([expired.status, expired.cookie]).toEqual([403, undefined]);
    expect(expired.text).toContain('Request has expired');
    const good = presignedDashboardUrl(api.endpoint, api.key, 'us-east-1');
    const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(good)![1]!;
    for (const bad of [
      good.replace(sig, sig.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))),
      good.replace('X-Amz-Expires=300', 'X-Amz-Expires=604800'),
      `${good}&extra=1`,
      presignedDashboardUrl(api.endpoint, { ...api.key, secretAccessKey: 'wrong' }, 'us-east-1'),
      presignedDashboardUrl(api.endpoint, api.key, 'eu-west-1'),
    ]) {
      const r = await signIn(bad);
      expect([r.status, r.cookie], bad).toEqual([403, undefined]);
    }
    const { cookie } = await signIn(good);
    const [name, token] = cookie!.split('=') as [string, string];
    const [body, mac] = token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { i: string };
    const forgedBody = Buffer.from(JSON.stringify({ ...claims, i: JSON.stringify([api.keyOther.accessKeyId, 'us-east-1']) })).toString('base64url');
    for (const forged of [`${name}=${forgedBody}.${mac}`, `${name}=${body}.${mac.slice(0, -2)}xx`, `${name}=garbage`, `${name}=`, 'other=1']) {
      expect((await get('/pcloud/dashboard/state', forged)).status, forged).toBe(401);
      expect((await get('/pcloud/dashboard', forged)).status).toBe(401);
    }
  });

  it('a session ends when its key is deleted', async () => {
    const user = await userWithKey(api.cloud, ME, 'leaving', ['arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess']);
    const { cookie } = await signIn(presignedDashboardUrl(api.endpoint, user, 'us-east-1'));
    expect((await get('/pcloud/dashboard/state', cookie)).status).toBe(200);
    await api.cloud.db.delete(accessKeys).where(eq(accessKeys.accessKeyId, user.accessKeyId));
    await until(async () => (await get('/pcloud/dashboard/state', cookie)).status === 401, 10_000, 200);
  });
});

describe('what the state shows', () => {
  it("the signer's account: its instances with Name tags as written, its functions with their invocations; the hosts and pool to the operator", async () => {
    const { cookie } = await signIn(presignedDashboardUrl(api.endpoint, api.key, 'us-east-1'));
    const s = await stateOf(cookie!);
    expect([s.account, s.principal]).toEqual([ME, `arn:aws:iam::${ME}:root`]);
    if (!s.instances.shown) throw new Error('instances not shown');
    expect(s.instances.items.map((i) => i.id).sort()).toEqual([...mine].sort());
    expect(s.instances.items.some((i) => i.id === theirs || i.name === 'theirs')).toBe(false);
    for (const [k, id] of mine.entries()) expect(s.instances.items.find((i) => i.id === id)!.name).toBe(NAMES[k]);
    if (!s.functions.shown) throw new Error('functions not shown');
    expect(s.functions.items).toEqual([expect.objectContaining({ name: 'hello_fn-1', mode: 'warm', invocations: 3, coldStarts: 1, runtime: 'nodejs20.x' })]);
    expect(s.hosts.shown && s.hosts.items.length).toBeGreaterThan(0);
    expect(s.pool.shown).toBe(true);
  });

  it('another account sees its own instance only, no function, and neither hosts nor pool', async () => {
    const { cookie } = await signIn(presignedDashboardUrl(api.endpoint, api.keyOther, 'us-east-1'));
    const s = await stateOf(cookie!);
    expect(s.account).toBe('222222222222');
    expect(s.instances.shown && s.instances.items.map((i) => [i.id, i.name])).toEqual([[theirs, 'theirs']]);
    expect(s.functions.shown && s.functions.items).toEqual([]);
    expect(s.hosts.shown || s.hosts.reason).toContain('operator');
    expect(s.pool.shown).toBe(false);
    expect(JSON.stringify(s)).not.toContain(mine[0]);
  });

  it('a user sees what its policies allow: nothing without them; instances without checks; never the hosts', async () => {
    const nobody = await userWithKey(api.cloud, ME, 'nobody');
    let s = await stateOf((await signIn(presignedDashboardUrl(api.endpoint, nobody, 'us-east-1'))).cookie!);
    expect(s.principal).toBe(`arn:aws:iam::${ME}:user/nobody`);
    expect(s.instances.shown || s.instances.reason).toContain('ec2:DescribeInstances');
    expect(s.functions.shown || s.functions.reason).toContain('lambda:ListFunctions');
    expect(s.hosts.shown).toBe(false);
    expect(JSON.stringify(s)).not.toMatch(/i-[0-9a-f]{8}|hello_fn/);

    const describer = await userWithKey(api.cloud, ME, 'describer');
    const policy = await api.cloud.iam.policies.create(ME, { name: 'describe-only', path: '/', document: doc([{ Action: 'ec2:DescribeInstances' }]) });
    await api.cloud.iam.policies.attach(ME, 'user', 'describer', policy.arn);
    s = await stateOf((await signIn(presignedDashboardUrl(api.endpoint, describer, 'us-east-1'))).cookie!);
    if (!s.instances.shown) throw new Error('instances not shown');
    expect(s.instances.checks).toBe(false);
    expect(s.instances.items).toHaveLength(mine.length);
    expect(s.instances.items.every((i) => i.system === null && i.status === null)).toBe(true);
    expect(s.functions.shown).toBe(false);
  });

  it('follows the instances: a terminated one shows so at the next read', async () => {
    const { cookie } = await signIn(presignedDashboardUrl(api.endpoint, api.key, 'us-east-1'));
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [mine[0]!] }));
    await until(async () => {
      const s = await stateOf(cookie!);
      return s.instances.shown && s.instances.items.find((i) => i.id === mine[0])?.state === 'terminated';
    }, 10_000, 100);
  });
});

describe('what the browser is given', () => {
  it('every answer: no caching, no framing, only this origin\'s script and style (no inline script), no referrer', async () => {
    const { cookie } = await signIn(presignedDashboardUrl(api.endpoint, api.key, 'us-east-1'));
    for (const path of ['/pcloud/dashboard', '/pcloud/dashboard/state', '/pcloud/dashboard/app.js', '/pcloud/dashboard/app.css']) {
      const res = await get(path, cookie);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
    expect((await get('/pcloud/dashboard/state', cookie)).headers.get('content-type')).toBe('application/json');
  });

  it('the page holds no inline script and no data; the script never writes HTML', async () => {
    expect(DASHBOARD_PAGE).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(DASHBOARD_PAGE).not.toMatch(/\son[a-z]+=/i);
    expect(DASHBOARD_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(DASHBOARD_SCRIPT).toContain('textContent');
  });

  it('the state carries hostile names inside JSON strings only: parsed back, the very text; nowhere raw', async () => {
    const { cookie } = await signIn(presignedDashboardUrl(api.endpoint, api.key, 'us-east-1'));
    const text = await (await get('/pcloud/dashboard/state', cookie)).text();
    const names = ((JSON.parse(text) as DashboardState).instances as { items: { name: string }[] }).items.map((i) => i.name);
    for (const n of NAMES) expect(names).toContain(n);
    // Control characters are escaped in JSON, quotes too: the answer parses, whatever the names hold.
    expect(text).not.toMatch(/[\x00-\x1f]/);
  });

  it('the console route takes a session and the instance\'s account: another account\'s VM is not found, no session is 401', async () => {
    const { cookie } = await signIn(presignedDashboardUrl(api.endpoint, api.key, 'us-east-1'));
    expect((await get(`/pcloud/dashboard/console/${theirs}`, cookie)).status).toBe(404);
    expect((await get(`/pcloud/dashboard/console/${mine[1]}`)).status).toBe(401);
    // A container has no display: the console says so (the page for a q35 VM is the console's own, tested with it).
    const container = await get(`/pcloud/dashboard/console/${mine[1]}`, cookie);
    expect(container.status).toBe(409);
    expect(await container.text()).toContain('UnsupportedOperation');
    expect((await get('/pcloud/dashboard/console/not-an-id', cookie)).status).toBe(404);
  });
});
