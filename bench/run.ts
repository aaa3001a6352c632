/** `npm run bench`: every benchmark, printed and written to bench/results/. Figures, not assertions. */
import { benchDescribe } from './describe.js';
import { benchLaunch } from './launch.js';
import { table, writeResult } from './lib.js';

const only = process.argv[2];
const dataDir = process.env.PCLOUD_BENCH_DATA ?? process.env.PCLOUD_TEST_DATA ?? '/var/tmp/pcloud-test';

if (!only || only === 'launch') {
  const r = await benchLaunch({ dataDir, runs: Number(process.env.BENCH_RUNS ?? 7), fleet: Number(process.env.BENCH_FLEET ?? 20) });
  console.log('\n(a) RunInstances → running vs bare systemd-nspawn --boot --notify-ready=yes (ms, same image, same seed, same run)');
  console.log(table([
    ['', 'bare p50', 'bare p95', 'pcloud p50', 'pcloud p95', 'ratio p50 (target ≤ 1.3)'],
    ['1 instance', r.one.bare.p50, r.one.bare.p95, r.one.pcloud.p50, r.one.pcloud.p95, r.one.ratioP50],
    [`${r.fleet.count} at once`, r.fleet.bare.p50, r.fleet.bare.p95, r.fleet.pcloud.p50, r.fleet.pcloud.p95, r.fleet.ratioP50],
  ]));
  console.log(`fleet wall time: bare ${r.fleet.bare.wallMs} ms, pcloud ${r.fleet.pcloud.wallMs} ms`);
  console.log('written to', writeResult('launch', r));
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
