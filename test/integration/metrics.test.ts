/**
 * A real `pcloud serve` scraped by a real Prometheus (Debian's `prometheus`, started here on ports of its own): after
 * a few API calls, Prometheus' HTTP API has the request counter by service/action/status, the latency histogram,
 * instances by state and runtime, the pool's bytes, nginx reloads and Node's process metrics; after a real container's
 * launch, the launch counted by runtime and result and timed to running and to status ok, and reconcile's actions. The same server's access log is a file of
 * JSON lines that SIGHUP reopens after a rotation, and its server log is JSON lines; a second server whose metrics port
 * is taken serves its API all the same and says why it has no metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import aws4 from 'aws4';
import { CREDS, ensureImage, freePort, spawnServe } from '../support/real.js';
import { BASE, sweepRun } from '../support/runs.js';
import { until } from '../support/api.js';
import { dashboardExprs } from '../support/grafana.js';

const PROMETHEUS = '/usr/bin/prometheus';
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dataDir = join(BASE, `metrics-${stamp}`);
const otherDir = join(BASE, `metrics-${stamp}-b`);
const accessLog = join(dataDir, 'access.log');

interface Served { child: ChildProcess; endpoint: string }

/** `pcloud serve` with these flags (its nginx on a port of its own), resolved once it serves. */
async function serve(dir: string, flags: string[]): Promise<Served> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const { child } = await spawnServe(dir, port, ['--no-image', ...flags], { PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${await freePort()}` });
  return { child, endpoint: `http://127.0.0.1:${port}` };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

async function call(endpoint: string, service: string, body: string): Promise<number> {
  return (await answer(endpoint, service, body)).status;
}

async function answer(endpoint: string, service: string, body: string): Promise<{ status: number; text: string }> {
  const signed = aws4.sign({ host: new URL(endpoint).host, method: 'POST', path: '/', body, service, region: 'us-east-1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' } }, CREDS);
  const res = await fetch(endpoint, { method: 'POST', headers: signed.headers as Record<string, string>, body });
  return { status: res.status, text: await res.text() };
}

const ec2 = (endpoint: string, action: string) => call(endpoint, 'ec2', `Action=${action}&Version=2016-11-15`);

let server: Served | undefined;
let imageId = '';
let metricsAt = '';
let prometheus: ChildProcess | undefined;
let promUrl = '';

/** One instant query's samples: labels and value. */
async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = await res.json() as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}
const valueOf = async (q: string) => {
  const r = await query(q);
  return r.length === 1 ? Number(r[0]!.value[1]) : undefined;
};

const skip = existsSync(PROMETHEUS) ? false : `Debian's prometheus is not installed (${PROMETHEUS}): .ci/setup-host installs it`;

beforeAll(async () => {
  if (skip) return;
  metricsAt = `127.0.0.1:${await freePort()}`;
  // The default image (from the run's tarball), for a real container's launch.
  imageId = await ensureImage(dataDir);
  server = await serve(dataDir, ['--metrics-listen', metricsAt, '--access-log', accessLog]);
  // Prometheus of its own: its config, its storage and its port here (the Debian package's service plays no part).
  const promDir = join(dataDir, 'prometheus');
  mkdirSync(join(promDir, 'data'), { recursive: true });
  writeFileSync(join(promDir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s',
    'scrape_configs:', '  - job_name: pcloud', '    static_configs:', `      - targets: ['${metricsAt}']`, '',
  ].join('\n'));
  const promListen = `127.0.0.1:${await freePort()}`;
  promUrl = `http://${promListen}`;
  prometheus = spawn(PROMETHEUS, [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`,
    `--web.listen-address=${promListen}`], { stdio: ['ignore', 'ignore', openSync(join(promDir, 'prometheus.log'), 'a')] });
  await until(() => fetch(`${promUrl}/-/ready`).then((r) => r.ok, () => false), 60_000, 200);
}, 180_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    prometheus.kill('SIGTERM');
    await new Promise((r) => prometheus!.once('exit', r));
  }
  await stop(server?.child);
  if (!skip) {
    await sweepRun(dataDir);
    await sweepRun(otherDir);
  }
}, 120_000);

describe.skipIf(skip)('metrics, scraped by Prometheus', () => {
  it('has the API calls by service, action and status, their latency, instances, nginx reloads and process metrics', async () => {
    const { endpoint } = server!;
    for (let i = 0; i < 3; i++) expect(await ec2(endpoint, 'DescribeVpcs')).toBe(200);
    expect(await ec2(endpoint, 'DescribeInstances')).toBe(200);
    expect(await ec2(endpoint, 'NoSuchAction\n"{}')).toBe(400);
    expect(await call(endpoint, 'sts', 'Action=GetCallerIdentity&Version=2011-06-15')).toBe(200);
    await until(async () => (await valueOf('pcloud_api_requests_total{service="sts",action="GetCallerIdentity",status="200"}')) === 1, 60_000, 250);
    expect(await valueOf('up{job="pcloud"}')).toBe(1);
    expect(await valueOf('pcloud_api_requests_total{service="ec2",action="DescribeVpcs",status="200"}')).toBe(3);
    expect(await valueOf('pcloud_api_requests_total{service="ec2",action="DescribeInstances",status="200"}')).toBe(1);
    expect(await valueOf('pcloud_api_requests_total{service="ec2",action="unknown",status="400"}')).toBe(1);
    expect(await valueOf('pcloud_api_request_duration_seconds_count{service="ec2",action="DescribeVpcs"}')).toBe(3);
    expect(await valueOf('histogram_quantile(0.5, pcloud_api_request_duration_seconds_bucket{service="ec2",action="DescribeVpcs"})')).toBeGreaterThan(0);
    const instances = await query('pcloud_instances');
    expect(instances).toHaveLength(18);
    expect(instances.every((s) => s.value[1] === '0')).toBe(true);
    expect(new Set(instances.map((s) => s.metric.runtime))).toEqual(new Set(['container', 'microvm', 'q35']));
    expect((await query('pcloud_nginx_reloads_total')).map((s) => s.metric.result).sort()).toEqual(['failed', 'ok']);
    // The server's own units: its nginx (function URLs), started once, never restarted.
    expect(await valueOf('pcloud_units{kind="nginx",state="active"}')).toBe(1);
    expect(await valueOf('pcloud_unit_restarts{kind="nginx"}')).toBe(0);
    const size = await valueOf('pcloud_pool_size_bytes');
    expect(size).toBeGreaterThan(0);
    expect(await valueOf('pcloud_pool_free_bytes')).toBeLessThanOrEqual(size!);
    expect(await valueOf('process_resident_memory_bytes{job="pcloud"}')).toBeGreaterThan(0);
    expect(await valueOf('nodejs_eventloop_lag_seconds{job="pcloud"}')).toBeGreaterThanOrEqual(0);
  });

  it('has a real container\'s launch counted by runtime and result, timed to running and to status ok; reconcile\'s actions', async () => {
    const { endpoint } = server!;
    const run = await answer(endpoint, 'ec2', `Action=RunInstances&Version=2016-11-15&ImageId=${imageId}&InstanceType=t3.nano&MinCount=1&MaxCount=1`);
    expect(run.status, run.text).toBe(200);
    const id = /<instanceId>(i-[0-9a-f]+)<\/instanceId>/.exec(run.text)![1]!;
    try {
      // Its guest's boot done: the status check ok, as the events told it, scraped.
      await until(async () => (await valueOf('pcloud_launch_seconds_count{runtime="container",phase="status_ok"}')) === 1, 240_000, 500);
      expect(await valueOf('pcloud_launches_total{runtime="container",result="ok"}')).toBe(1);
      expect(await valueOf('pcloud_launches_total{runtime="container",result="failed"}')).toBe(0);
      expect(await valueOf('pcloud_launch_seconds_count{runtime="container",phase="running"}')).toBe(1);
      const toRunning = await valueOf('pcloud_launch_seconds_sum{runtime="container",phase="running"}');
      const toOk = await valueOf('pcloud_launch_seconds_sum{runtime="container",phase="status_ok"}');
      expect(toRunning).toBeGreaterThan(0);
      expect(toOk).toBeGreaterThanOrEqual(toRunning!);
      expect(await query('pcloud_launches_total')).toHaveLength(9);
      // A fresh data dir: reconcile had nothing to do at the start, and each action is a series.
      const actions = await query('pcloud_reconcile_actions_total');
      expect(actions.length).toBeGreaterThan(5);
      expect(actions.every((s) => s.value[1] === '0')).toBe(true);
    } finally {
      await call(endpoint, 'ec2', `Action=TerminateInstances&Version=2016-11-15&InstanceId.1=${id}`);
      await until(async () => (await valueOf('pcloud_instances{state="terminated",runtime="container"}')) === 1, 120_000, 500);
    }
  }, 400_000);

  it('writes the access log as JSON lines, and opens it again on SIGHUP after a rotation', async () => {
    const { endpoint, child } = server!;
    const lines = () => readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    await until(() => lines().some((l) => l.action === 'GetCallerIdentity'), 10_000, 50);
    const seen = lines();
    expect(seen.filter((l) => l.service === 'ec2' && l.action === 'DescribeVpcs' && l.status === 200 && l.account === '000000000000')).toHaveLength(3);
    for (const l of seen) expect(l.requestId).toMatch(/^[0-9a-f-]{36}$/);
    renameSync(accessLog, `${accessLog}.1`);
    child.kill('SIGHUP');
    // The server lives on (SIGHUP reopens, it does not end it) and writes to a new file by the old name.
    await until(async () => {
      await ec2(endpoint, 'DescribeRegions');
      return existsSync(accessLog) && lines().some((l) => l.action === 'DescribeRegions');
    }, 10_000, 100);
    expect(child.exitCode).toBeNull();
    // Requests made before the signal arrived may still be in the old file; none is in both.
    const old = new Set(readFileSync(`${accessLog}.1`, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { requestId: string }).requestId));
    expect(lines().filter((l) => old.has(l.requestId as string))).toEqual([]);
  });

  it('logs the server\'s own lines as JSON with their level', () => {
    const json = readFileSync(join(dataDir, 'serve.log'), 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.find((l) => typeof l.msg === 'string' && l.msg.startsWith('metrics on http://'))).toMatchObject({ level: 'info', msg: `metrics on http://${metricsAt}/metrics` });
  });

  it('answers every query of the shipped Grafana dashboard (its job variable set to this job), the API panels with data', async () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) {
      // query() expects Prometheus' status success: a query it cannot parse or evaluate fails here.
      const result = await query(expr.replaceAll('$job', 'pcloud'));
      if (/^sum\(rate\(pcloud_api_requests_total\{job=~"\$job"\}\[5m\]\)\)$/.test(expr)) expect(result, expr).toHaveLength(1);
    }
    expect(await valueOf(exprs.find((e) => e.startsWith('sum(pcloud_instances{'))!.replaceAll('$job', 'pcloud'))).toBe(0);
  });

  it('a server whose metrics port is taken serves its API all the same, and says why it has no metrics', async () => {
    const other = await serve(otherDir, ['--metrics-listen', metricsAt, '--access-log', 'off']);
    try {
      expect(await ec2(other.endpoint, 'DescribeVpcs')).toBe(200);
      const log = readFileSync(join(otherDir, 'serve.log'), 'utf8');
      expect(log).toContain(`"msg":"metrics not served: ${metricsAt} is in use; set --metrics-listen to a free HOST:PORT (or off)"`);
    } finally {
      await stop(other.child);
    }
  });
});
