/**
 * The web dashboard and Lambda's series for real: a `pcloud serve` of its own (its metrics and nginx on ports of
 * their own), a container running, a warm and a per-request function invoked through the API, through nginx's Invoke
 * and through their function URLs. The URL `pcloud dashboard` prints is opened in headless Chromium (Debian's, driven
 * by playwright-core, as the console's test does): the page shows the instance running under its Name tag (a hostile
 * one, shown as the text it is), the functions with their invocations and cold starts, and, without a reload, the
 * instance stopping. Screenshots are saved beside the server's data dir. /metrics has the invocations, cold starts
 * (a warm worker's one start; every per-request invoke) and durations per function.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateFunctionCommand, CreateFunctionUrlConfigCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { chromium } from 'playwright-core';
import { CLI, CREDS, ensureImage, freePort, spawnServe, waitForState } from '../support/real.js';
import { BASE, sweepRun } from '../support/runs.js';
import { until } from '../support/api.js';
import { lambdaRole } from '../support/roles.js';

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dataDir = join(BASE, `dashboard-${stamp}`);
const shots = join(BASE, 'screenshots');
const ACCOUNT = '000000000000';
const NAME_TAG = '<b>web</b> & "front" <script>window.pwned=1</script>';
const NODE = 'export const handler = async (event) => ({ ok: true, event });\n';

let child: ChildProcess | undefined;
let endpoint = '';
let nginx = '';
let metricsAt = '';
let ec2: EC2Client;
let lambda: LambdaClient;
let instanceId = '';
const warm = `dash-warm-${Date.now().toString(36)}`;
const perRequest = `dash-each-${Date.now().toString(36)}`;
const python = `dash-py-${Date.now().toString(36)}`;
const PYTHON = 'def handler(event, context):\n    return {"ok": True}\n';

function zip(files: Record<string, string>): Uint8Array {
  const d = mkdtempSync(join(tmpdir(), 'pcloud-dash-zip-'));
  for (const [f, text] of Object.entries(files)) execFileSync('sh', ['-c', 'cat > "$0"', join(d, f)], { input: text });
  execFileSync('zip', ['-q', '-r', 'package.zip', ...Object.keys(files)], { cwd: d });
  return new Uint8Array(readFileSync(join(d, 'package.zip')));
}

beforeAll(async () => {
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(shots, { recursive: true });
  const imageId = await ensureImage(dataDir);
  const port = await freePort();
  const lambdaPort = await freePort();
  metricsAt = `127.0.0.1:${await freePort()}`;
  endpoint = `http://127.0.0.1:${port}`;
  nginx = `http://127.0.0.1:${lambdaPort}`;
  ({ child } = await spawnServe(dataDir, port, ['--no-image', '--metrics-listen', metricsAt, '--access-log', 'off'], {
    PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${lambdaPort}`, PCLOUD_LAMBDA_IDLE_SEC: '600',
  }));
  ec2 = new EC2Client({ endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  lambda = new LambdaClient({ endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  const r = await ec2.send(new RunInstancesCommand({
    ImageId: imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: NAME_TAG }] }],
  }));
  instanceId = r.Instances![0]!.InstanceId!;
  await waitForState(ec2, instanceId, 'running', 120_000);
}, 600_000);

afterAll(async () => {
  if (instanceId) await ec2?.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })).catch(() => undefined);
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  // The server's log stays beside the screenshots (the data dir is swept).
  copyFileSync(join(dataDir, 'serve.log'), join(shots, 'dashboard-serve.log'));
  await sweepRun(dataDir);
}, 180_000);

/** The metrics' text, and one sample's value. */
async function scrape(): Promise<(name: string) => number | undefined> {
  const text = await (await fetch(`http://${metricsAt}/metrics`)).text();
  return (series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
}

describe('the dashboard and Lambda metrics, for real', () => {
  it('counts invocations by the API, nginx\'s Invoke and function URLs: cold starts and durations per function', async () => {
    const role = await lambdaRole(endpoint, CREDS);
    // A timeout that a busy 2-core machine does not reach while a runtime starts (what is counted is not how fast).
    const Timeout = 60;
    for (const [name, tags] of [[warm, { 'pcloud:invoke-mode': 'warm' }], [perRequest, undefined]] as const) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: role, Timeout, Code: { ZipFile: zip({ 'index.mjs': NODE }) }, ...(tags ? { Tags: tags } : {}) }));
    }
    const viaNginx = new LambdaClient({ endpoint: nginx, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
    for (const name of [warm, perRequest]) {
      for (const client of [lambda, lambda, viaNginx]) {
        const res = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{"n":1}') }));
        expect([res.StatusCode, res.FunctionError]).toEqual([200, undefined]);
      }
      const { FunctionUrl } = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }));
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${FunctionUrl}path`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
        expect(res.status).toBe(200);
        // The runtime's cold-start word is for pcloud's count, never the client's.
        expect(res.headers.get('x-pcloud-cold-start')).toBeNull();
        await res.text();
      }
    }
    // Python's shim says the same of its first answer: a warm worker, invoked through the API and through nginx.
    await lambda.send(new CreateFunctionCommand({ FunctionName: python, Runtime: 'python3.12', Handler: 'app.handler', Role: role, Timeout, Code: { ZipFile: zip({ 'app.py': PYTHON }) }, Tags: { 'pcloud:invoke-mode': 'warm' } }));
    for (const client of [lambda, viaNginx, lambda]) expect((await client.send(new InvokeCommand({ FunctionName: python, Payload: Buffer.from('{}') }))).FunctionError).toBeUndefined();
    // Five each: two through the API, one through nginx's Invoke, two through the URL (nginx reports those as they end).
    const fn = (name: string) => `function="${ACCOUNT}:${name}"`;
    const value = await until(async () => {
      const v = await scrape();
      return v(`pcloud_lambda_invocations_total{${fn(warm)},mode="warm"}`) === 5 && v(`pcloud_lambda_invocations_total{${fn(perRequest)},mode="per-request"}`) === 5
        && v(`pcloud_lambda_invocations_total{${fn(python)},mode="warm"}`) === 3 && v;
    }, 20_000, 200);
    // A warm function: its worker started once; per request: a process of its own for each.
    expect(value(`pcloud_lambda_cold_starts_total{${fn(warm)}}`)).toBe(1);
    expect(value(`pcloud_lambda_cold_starts_total{${fn(perRequest)}}`)).toBe(5);
    expect(value(`pcloud_lambda_cold_starts_total{${fn(python)}}`)).toBe(1);
    expect(value(`pcloud_lambda_duration_seconds_count{${fn(warm)}}`)).toBe(5);
    expect(value(`pcloud_lambda_duration_seconds_sum{${fn(warm)}}`)).toBeGreaterThan(0);
    expect(value(`pcloud_lambda_duration_seconds_bucket{le="+Inf",${fn(perRequest)}}`)).toBe(5);
  });

  it('`pcloud dashboard` opens in Chromium: the instance running, the functions counted; live, the instance stopping', async () => {
    const url = execFileSync(process.execPath, [CLI, 'dashboard', '--data', dataDir]).toString().trim();
    expect(url.startsWith(`${endpoint}/pcloud/dashboard?`)).toBe(true);
    expect(url).toMatch(/X-Amz-Signature=[0-9a-f]{64}/);
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const violations: string[] = [];
      page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
      await page.goto(url);
      // The signature left the address bar: a session cookie took over.
      expect(page.url()).toBe(`${endpoint}/pcloud/dashboard`);
      const row = `#instances tbody tr[data-id="${instanceId}"]`;
      await page.waitForSelector(`${row}[data-state="running"]`, { timeout: 20_000 });
      // The Name tag is the text it is: no element made of it, no script run.
      expect(await page.textContent(`${row} td:nth-child(2)`)).toBe(NAME_TAG);
      expect(await page.$$eval('#instances tbody b, #instances tbody script', (els) => els.length)).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
      expect(await page.textContent(`${row} td:nth-child(5)`)).toBe('running');
      const cells = async (name: string) => page.$$eval(`#functions tbody tr[data-name="${name}"] td`, (tds) => tds.map((td) => td.textContent));
      await until(async () => (await cells(warm))[4] === '5', 10_000, 200);
      expect((await cells(warm)).slice(0, 6)).toEqual([warm, 'nodejs20.x', 'warm', '128 MiB', '5', '1']);
      expect((await cells(perRequest)).slice(2, 6)).toEqual(['per-request', '128 MiB', '5', '5']);
      expect(await page.textContent('#who')).toBe(`account ${ACCOUNT} · arn:aws:iam::${ACCOUNT}:root`);
      expect(await page.locator('#hosts tbody tr').count()).toBeGreaterThan(0);
      expect(await page.textContent('#pool')).toMatch(/used of/);
      await page.screenshot({ path: join(shots, 'dashboard-running.png'), fullPage: true });

      // Live: the instance stops, and the page shows it without being loaded again.
      await page.evaluate(() => { (window as unknown as { sameLoad?: boolean }).sameLoad = true; });
      const before = await page.evaluate(() => (window as unknown as { pcloudDashboard: { refreshes: number } }).pcloudDashboard.refreshes);
      await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
      await page.waitForSelector(`${row}[data-state="stopped"]`, { timeout: 90_000 });
      expect(await page.evaluate(() => (window as unknown as { sameLoad?: boolean }).sameLoad)).toBe(true);
      expect(await page.evaluate(() => (window as unknown as { pcloudDashboard: { refreshes: number } }).pcloudDashboard.refreshes)).toBeGreaterThan(before);
      expect(await page.textContent(`${row} td:nth-child(5)`)).toBe('stopped');
      await page.screenshot({ path: join(shots, 'dashboard-stopped.png'), fullPage: true });
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 240_000);
});
