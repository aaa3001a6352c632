/**
 * `npm run bench [launch|units|network|describe|microvm|lambda]`: the benchmarks, printed and written to bench/results/. Figures, not
 * assertions. With no argument: units (which includes launch), network and describe.
 */
import { benchDescribe } from './describe.js';
import { benchLaunch } from './launch.js';
import { benchUnits } from './units.js';
import { benchNetwork } from './network.js';
import { benchMicrovm } from './microvm.js';
import { benchLambda } from './lambda.js';
import { table, writeResult } from './lib.js';

const only = process.argv[2];
const dataDir = process.env.PCLOUD_BENCH_DATA ?? process.env.PCLOUD_TEST_DATA ?? '/var/tmp/pcloud-bench';
const runs = Number(process.env.BENCH_RUNS ?? 7);
const fleet = Number(process.env.BENCH_FLEET ?? 20);

if (!only || only === 'launch' || only === 'units') {
  const r = only === 'launch' ? { direct: await benchLaunch({ dataDir, runs, fleet }) } : await benchUnits({ dataDir, runs, fleet });
  const d = r.direct;
  console.log('\n(a) RunInstances → running vs bare systemd-nspawn --boot --notify-ready=yes (ms, same image, same seed, same run)');
  console.log(table([
    ['', 'bare p50', 'bare p95', 'pcloud p50', 'pcloud p95', 'ratio p50 (target ≤ 1.3)'],
    ['1 instance', d.one.bare.p50, d.one.bare.p95, d.one.pcloud.p50, d.one.pcloud.p95, d.one.ratioP50],
    [`${d.fleet.count} at once`, d.fleet.bare.p50, d.fleet.bare.p95, d.fleet.pcloud.p50, d.fleet.pcloud.p95, d.fleet.ratioP50],
  ]));
  console.log(`fleet wall time: bare ${d.fleet.bare.wallMs} ms, pcloud ${d.fleet.pcloud.wallMs} ms`);
  console.log('written to', writeResult(process.env.BENCH_RESULT ?? 'launch', d));
  if ('systemd' in r) {
    const s = r.systemd;
    console.log('\n(c) RunInstances → running: systemd unit manager (in the systemd test node) vs direct manager (this host), ms');
    console.log(table([
      ['', 'direct p50', 'systemd p50', 'systemd / direct', 'bare (host) p50', 'bare (node) p50'],
      ['1 instance', d.one.pcloud.p50, s.one.pcloud.p50, r.ratio.one, d.one.bare.p50, s.one.bare.p50],
      [`${d.fleet.count} at once`, d.fleet.pcloud.p50, s.fleet.pcloud.p50, r.ratio.fleet, d.fleet.bare.p50, s.fleet.bare.p50],
    ]));
    console.log('written to', writeResult('units', r));
  }
}

if (!only || only === 'network') {
  const r = await benchNetwork({ dataDir, fleet });
  console.log('\n(d) Networks: host-side setup per instance (namespace, veth on the VPC bridge, address, route), ms');
  console.log(table([
    ['one at a time p50', 'p95', `${r.setupConcurrent.count} at once (wall)`, 'per instance'],
    [r.setupPerInstanceMs.p50, r.setupPerInstanceMs.p95, r.setupConcurrent.wallMs, r.setupConcurrent.perInstanceMs],
  ]));
  console.log(`launch of ${r.launch.count}: without networking p50 ${r.launch.withoutNetwork.p50} ms (wall ${r.launch.withoutNetwork.wallMs}), with p50 ${r.launch.withNetwork.p50} ms (wall ${r.launch.withNetwork.wallMs}): ratio ${r.launch.ratioP50}`);
  console.log('written to', writeResult('network', r));
}

if (!only || only === 'describe') {
  const r = await benchDescribe({ count: Number(process.env.BENCH_INSTANCES ?? 10_000), requests: 500, seconds: 3 });
  console.log(`\n(b) DescribeInstances with ${r.instances} instances: pcloud vs moto_server (same calls, same run)`);
  const rows: (string | number)[][] = [['call', 'pcloud p50', 'pcloud p99', 'pcloud req/s', 'moto p50', 'moto p99', 'moto req/s', 'faster p50 / rps (target ≥ 5)']];
  for (const k of Object.keys(r.pcloud)) {
    rows.push([k, r.pcloud[k]!.latencyMs.p50, r.pcloud[k]!.latencyMs.p99, r.pcloud[k]!.rps, r.moto[k]!.latencyMs.p50, r.moto[k]!.latencyMs.p99, r.moto[k]!.rps, `${r.pcloudFasterBy[k]!.p50}× / ${r.pcloudFasterBy[k]!.rps}×`]);
  }
  console.log(table(rows));
  console.log('written to', writeResult('describe', r));
}

if (!only || only === 'microvm') {
  const r = await benchMicrovm({ dataDir, runs: Number(process.env.BENCH_VM_RUNS ?? 3) });
  console.log(`\n(e) microvm (${r.accel}): RunInstances c5.large → running vs a bare QEMU boot of the same kernel, initrd and disk (ms)`);
  console.log(table([
    ['bare p50', 'bare max', 'pcloud p50', 'pcloud max', 'ratio p50 (target ≤ 1.2)'],
    [r.bare.p50, r.bare.max, r.pcloud.p50, r.pcloud.max, r.ratioP50],
  ]));
  console.log('written to', writeResult('microvm', r));
}

if (!only || only === 'lambda') {
  const r = await benchLambda({ dataDir, runs: Number(process.env.BENCH_INVOKES ?? 50), seconds: 5 });
  console.log('\n(f) Lambda invoke through nginx vs straight to the same function socket (ms; targets: cold ≤ 20 ms p50, warm overhead ≤ 1 ms)');
  const rows: (string | number)[][] = [['function', 'nginx p50', 'nginx p95', 'socket p50', 'socket p95', 'nginx overhead p50', 'warm invokes/s (nginx, 16 at once)']];
  for (const [k, v] of Object.entries(r.results) as [string, { nginx: { p50: number; p95: number }; socket: { p50: number; p95: number }; overheadP50Ms: number; invokesPerSecond?: number }][]) {
    rows.push([k, v.nginx.p50, v.nginx.p95, v.socket.p50, v.socket.p95, v.overheadP50Ms, v.invokesPerSecond ?? '']);
  }
  console.log(table(rows));
  console.log('written to', writeResult('lambda', r));
}
