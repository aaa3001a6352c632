/**
 * /metrics (src/metrics) of a real API over the fake host: requests counted by service, known action and status,
 * their latency, instances by state and runtime read at the scrape, launches by runtime and result with their time to
 * running and to status ok (from the domain's events), reconcile's actions, nginx's reloads, Node's process metrics; label
 * values from fixed sets only (a hostile action is `unknown`, its text nowhere). The listener answers /metrics only,
 * and a port it cannot have leaves it out without failing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer as netServer } from 'node:net';
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import aws4 from 'aws4';
import { createApp } from '../../src/api/server.js';
import { Metrics } from '../../src/metrics/index.js';
import { instanceSource } from '../../src/metrics/instances.js';
import { launchMetrics } from '../../src/metrics/launches.js';
import { poolSource } from '../../src/metrics/pool.js';
import { unitSource } from '../../src/metrics/units.js';
import { metricsListenOf, serveMetrics } from '../../src/metrics/server.js';
import { imageRunsAsVm, startApi, until, type TestApi } from '../support/api.js';
import { HOSTILE } from '../support/hostile.js';

let api: TestApi;
let metrics: Metrics;
let endpoint: string;
let listener: Server | undefined;
let close: () => void;
const reloads = { ok: 2, failed: 1 };

beforeAll(async () => {
  api = await startApi();
  await imageRunsAsVm(api);
  mkdirSync(join(api.cloud.dataDir, 'pool'), { recursive: true });
  metrics = new Metrics({ instances: instanceSource(api.cloud), pool: poolSource(api.cloud.dataDir), units: unitSource(api.units), nginxReloads: () => reloads });
  launchMetrics(metrics.registry, api.cloud.events);
  const server = serve({ fetch: createApp(api.cloud, { onCall: (c) => metrics.observe(c) }).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  listener = await serveMetrics({ hostname: '127.0.0.1', port: 0 }, metrics);
  close = () => {
    server.close();
    listener?.close();
  };
});
afterAll(async () => {
  close?.();
  await api?.close();
});

async function ec2(params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
  const signed = aws4.sign({ host: new URL(endpoint).host, method: 'POST', path: '/', body, service: 'ec2', region: 'us-east-1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' } }, api.key);
  return (await fetch(endpoint, { method: 'POST', headers: signed.headers as Record<string, string>, body })).text();
}

/** The scrape, over the listener. */
async function scrape(): Promise<{ text: string; value: (name: string, labels?: Record<string, string>) => number | undefined }> {
  const res = await fetch(`http://127.0.0.1:${(listener!.address() as AddressInfo).port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const samples = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
    expect(m, l).toBeTruthy();
    const labels = new Map([...(m![2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    return { name: m![1]!, labels, value: Number(m![3]) };
  });
  return {
    text,
    value: (name, labels = {}) => samples.find((s) => s.name === name && s.labels.size === Object.keys(labels).length
      && Object.entries(labels).every(([k, v]) => s.labels.get(k) === v))?.value,
  };
}

describe('metrics', () => {
  it('counts requests by service, known action and status, with their latency', async () => {
    for (let i = 0; i < 3; i++) await ec2({ Action: 'DescribeVpcs' });
    await ec2({ Action: 'DescribeVpcs', 'VpcId.1': 'not-a-vpc' });
    const m = await scrape();
    expect(m.value('pcloud_api_requests_total', { service: 'ec2', action: 'DescribeVpcs', status: '200' })).toBe(3);
    expect(m.value('pcloud_api_requests_total', { service: 'ec2', action: 'DescribeVpcs', status: '400' })).toBe(1);
    expect(m.value('pcloud_api_request_duration_seconds_count', { service: 'ec2', action: 'DescribeVpcs' })).toBe(4);
    expect(m.value('pcloud_api_request_duration_seconds_bucket', { service: 'ec2', action: 'DescribeVpcs', le: '+Inf' })).toBe(4);
  });

  it('a hostile action, service or path is `unknown`: its text is in no label', async () => {
    for (const v of Object.values(HOSTILE)) await ec2({ Action: v });
    const signed = aws4.sign({ host: new URL(endpoint).host, method: 'POST', path: '/', body: 'x', service: 'evil"service{}', region: 'us-east-1' }, api.key);
    await fetch(endpoint, { method: 'POST', headers: signed.headers as Record<string, string>, body: 'x' });
    await fetch(`${endpoint}/pcloud/${encodeURIComponent(HOSTILE.quotes!)}`);
    const m = await scrape();
    expect(m.value('pcloud_api_requests_total', { service: 'ec2', action: 'unknown', status: '400' })).toBe(Object.keys(HOSTILE).length);
    expect(m.value('pcloud_api_requests_total', { service: 'unknown', action: 'unknown', status: '400' })).toBe(1);
    // An unsigned request on a path of pcloud's it does not have: the signature is asked for, as anywhere else.
    expect(m.value('pcloud_api_requests_total', { service: 'pcloud', action: 'unknown', status: '401' })).toBe(1);
    for (const v of Object.values(HOSTILE).filter((x) => x.trim().length > 3)) expect(m.text).not.toContain(v);
    expect(m.text).not.toContain('evil');
  });

  it('gives instances by state and runtime, read at the scrape; every pair a series', async () => {
    const before = await scrape();
    expect(before.value('pcloud_instances', { state: 'running', runtime: 'container' })).toBe(0);
    expect(before.value('pcloud_instances', { state: 'stopped', runtime: 'q35' })).toBe(0);
    const run = async (type: string, n: number) => [...(await ec2({ Action: 'RunInstances', ImageId: api.imageId, InstanceType: type, MinCount: String(n), MaxCount: String(n) }))
      .matchAll(/<instanceId>(i-[0-9a-f]+)<\/instanceId>/g)].map((x) => x[1]!);
    const containers = await run('t3.micro', 2);
    const vms = await run('m5.large', 1);
    expect([containers.length, vms.length]).toEqual([2, 1]);
    await until(async () => (await scrape()).value('pcloud_instances', { state: 'running', runtime: 'container' }) === 2);
    await until(async () => (await scrape()).value('pcloud_instances', { state: 'running', runtime: 'microvm' }) === 1);
    await ec2({ Action: 'TerminateInstances', 'InstanceId.1': containers[0]! });
    await until(async () => (await scrape()).value('pcloud_instances', { state: 'terminated', runtime: 'container' }) === 1);
    const m = await scrape();
    expect(m.value('pcloud_instances', { state: 'running', runtime: 'container' })).toBe(1);
    expect(m.value('pcloud_instances', { state: 'running', runtime: 'microvm' })).toBe(1);
    expect(m.text.split('\n').filter((l) => l.startsWith('pcloud_instances{'))).toHaveLength(6 * 3);
    // Their units, by kind and state (the fake host's: one unit per instance that runs).
    expect(m.value('pcloud_units', { kind: 'instance', state: 'active' })).toBe(2);
  });

  it('counts launches by runtime and result, with their time to running and to status ok; reconcile\'s actions', async () => {
    // The earlier launches' status checks are recorded after their state changes: counted from when they are all in.
    await api.cloud.instances.idle();
    const before = await scrape();
    const at = (m: typeof before, name: string, labels: Record<string, string>) => m.value(name, labels) ?? 0;
    const run = async () => /<instanceId>(i-[0-9a-f]+)<\/instanceId>/.exec(await ec2({ Action: 'RunInstances', ImageId: api.imageId, InstanceType: 't3.micro', MinCount: '1', MaxCount: '1' }))![1]!;
    const ok = { runtime: 'container', result: 'ok' };
    const toOk = { runtime: 'container', phase: 'status_ok' };
    await run();
    await until(async () => at(await scrape(), 'pcloud_launch_seconds_count', toOk) === at(before, 'pcloud_launch_seconds_count', toOk) + 1);
    api.units.failNextStart = new Error('no room on the host');
    const failed = await run();
    await until(async () => (await api.cloud.instances.row(failed))?.state === 'terminated');
    const m = await scrape();
    expect(at(m, 'pcloud_launches_total', ok)).toBe(at(before, 'pcloud_launches_total', ok) + 1);
    expect(at(m, 'pcloud_launches_total', { runtime: 'container', result: 'failed' })).toBe(at(before, 'pcloud_launches_total', { runtime: 'container', result: 'failed' }) + 1);
    const running = { runtime: 'container', phase: 'running' };
    expect(at(m, 'pcloud_launch_seconds_count', running)).toBe(at(before, 'pcloud_launch_seconds_count', running) + 1);
    expect(m.value('pcloud_launch_seconds_bucket', { ...running, le: '+Inf' })).toBe(m.value('pcloud_launch_seconds_count', running));
    expect(m.text.split('\n').filter((l) => l.startsWith('pcloud_launches_total{'))).toHaveLength(3 * 3);
    // This server's start reconciled nothing (a fresh data dir), and every action is a series.
    expect(m.value('pcloud_reconcile_actions_total', { action: 'relaunched' })).toBe(0);
    expect(m.value('pcloud_reconcile_actions_total', { action: 'orphan_removed' })).toBe(0);
  });

  it('gives the storage pool\'s size and free bytes, read at the scrape', async () => {
    const m = await scrape();
    const fs = statfsSync(join(api.cloud.dataDir, 'pool'));
    expect(m.value('pcloud_pool_size_bytes')).toBe(fs.blocks * fs.bsize);
    expect(m.value('pcloud_pool_free_bytes')).toBeGreaterThan(0);
    expect(m.value('pcloud_pool_free_bytes')).toBeLessThanOrEqual(fs.blocks * fs.bsize);
  });

  it('gives nginx\'s reloads by result, and Node\'s process metrics', async () => {
    const m = await scrape();
    expect(m.value('pcloud_nginx_reloads_total', { result: 'ok' })).toBe(2);
    expect(m.value('pcloud_nginx_reloads_total', { result: 'failed' })).toBe(1);
    reloads.ok = 5;
    expect((await scrape()).value('pcloud_nginx_reloads_total', { result: 'ok' })).toBe(5);
    expect(m.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });
});

describe('the metrics listener', () => {
  it('answers /metrics only', async () => {
    const base = `http://127.0.0.1:${(listener!.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${base}/metrics?x=1`)).status).toBe(200);
  });

  it('on a port already taken: no listener, and no failure', async () => {
    const taken = netServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    try {
      const port = (taken.address() as AddressInfo).port;
      expect(await serveMetrics({ hostname: '127.0.0.1', port }, metrics)).toBeUndefined();
    } finally {
      taken.close();
    }
  });

  it('reads --metrics-listen: HOST:PORT, [v6]:PORT, or off/none; anything else refused', () => {
    expect(metricsListenOf('127.0.0.1:9773')).toEqual({ hostname: '127.0.0.1', port: 9773 });
    expect(metricsListenOf('[::1]:9773')).toEqual({ hostname: '::1', port: 9773 });
    expect(metricsListenOf('off')).toBeUndefined();
    expect(metricsListenOf('none')).toBeUndefined();
    for (const bad of ['9773', ':9773', '127.0.0.1:', '127.0.0.1:70000', '127.0.0.1:-1', '127.0.0.1:9x', '']) {
      expect(() => metricsListenOf(bad), bad).toThrow(/invalid --metrics-listen .*: expected HOST:PORT, or off/);
    }
  });
});
