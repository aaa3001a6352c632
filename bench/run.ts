/**
 * `npm run bench [PART...]` (or BENCH_PARTS="PART ..."): the benchmarks, printed and written to bench/results/.
 * Figures, not assertions. Parts:
 *   launch, units, network, describe, lambda   the earlier figures (units includes launch; see each module);
 *   launch-pg   RunInstances → running with the state in PostgreSQL beside SQLite (issue 17: ≤ 1.2×), BENCH_FLEET launches;
 *   container, fleet, fleet-large, dense, microvm   issue 14's targets, each against its baseline in the same run;
 *   targets   all five of those, then the verdicts; verdicts   only the verdicts, from the results files there are;
 *   iam   IAM policy evaluation per request against the root baseline (in-process, CPU only);
 *   vxlan   instance to instance in one VPC, same host vs across two systemd test hosts over VXLAN (boots the pair of
 *           test/host/vxlan-nodes.ts: PCLOUD_NODE_DIR seeded; BENCH_VXLAN_REQUESTS, 200).
 * After any of the five, bench/results/targets.json is written again from every result file (each with its date).
 * With no part: every part. Sizes: BENCH_RUNS (7), BENCH_FLEET (20), BENCH_FLEET_LARGE (100), BENCH_DENSE (200),
 * BENCH_VM_RUNS (3), BENCH_SETTLE_MS (5000: a boot's settling before its memory is read), BENCH_IDLE_MS (10000),
 * BENCH_DENSE_TIMEOUT_MS (1800000), BENCH_INSTANCE_TYPE (t3.micro: container and fleets).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDescribe } from './describe.js';
import { benchLaunch } from './launch.js';
import { benchLaunchPg } from './launch-pg.js';
import { benchUnits } from './units.js';
import { benchNetwork } from './network.js';
import { benchMicrovm } from './microvm.js';
import { benchLambda } from './lambda.js';
import { benchContainer } from './container.js';
import { benchFleet, benchFleetLarge } from './fleet.js';
import { benchDense } from './dense.js';
import { benchIam } from './iam.js';
import { verdicts } from './targets.js';
import { table, writeResult } from './lib.js';

const TARGET_PARTS = ['container', 'fleet', 'fleet-large', 'dense', 'microvm'] as const;
const ALL = ['units', 'network', 'describe', 'launch-pg', ...TARGET_PARTS, 'lambda', 'iam', 'vxlan'];
const KNOWN = new Set([...ALL, 'launch', 'targets', 'verdicts']);
const asked = process.argv.slice(2).length ? process.argv.slice(2) : (process.env.BENCH_PARTS ?? '').split(/\s+/).filter(Boolean);
for (const a of asked) if (!KNOWN.has(a)) throw new Error(`unknown part ${a}: one of ${[...KNOWN].join(', ')}`);
const parts = new Set(asked.length ? asked.flatMap((a) => (a === 'targets' ? [...TARGET_PARTS, 'verdicts'] : [a])) : [...ALL, 'verdicts']);
const want = (part: string) => parts.has(part);
const dataDir = process.env.PCLOUD_BENCH_DATA ?? process.env.PCLOUD_TEST_DATA ?? '/var/tmp/pcloud-bench';
const runs = Number(process.env.BENCH_RUNS ?? 7);
const fleet = Number(process.env.BENCH_FLEET ?? 20);
const settleMs = Number(process.env.BENCH_SETTLE_MS ?? 5000);

if (want('launch') || want('units')) {
  const r = !want('units') ? { direct: await benchLaunch({ dataDir, runs, fleet }) } : await benchUnits({ dataDir, runs, fleet });
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

if (want('network')) {
  const r = await benchNetwork({ dataDir, fleet });
  console.log('\n(d) Networks: host-side setup per instance (namespace, veth on the VPC bridge, address, route), ms');
  console.log(table([
    ['one at a time p50', 'p95', `${r.setupConcurrent.count} at once (wall)`, 'per instance'],
    [r.setupPerInstanceMs.p50, r.setupPerInstanceMs.p95, r.setupConcurrent.wallMs, r.setupConcurrent.perInstanceMs],
  ]));
  console.log(`launch of ${r.launch.count}: without networking p50 ${r.launch.withoutNetwork.p50} ms (wall ${r.launch.withoutNetwork.wallMs}), with p50 ${r.launch.withNetwork.p50} ms (wall ${r.launch.withNetwork.wallMs}): ratio ${r.launch.ratioP50}`);
  console.log('written to', writeResult('network', r));
}

if (want('describe')) {
  const r = await benchDescribe({ count: Number(process.env.BENCH_INSTANCES ?? 10_000), requests: 500, seconds: 3 });
  console.log(`\n(b) DescribeInstances with ${r.instances} instances: pcloud vs moto_server (same calls, same run)`);
  const rows: (string | number)[][] = [['call', 'pcloud p50', 'pcloud p99', 'pcloud req/s', 'moto p50', 'moto p99', 'moto req/s', 'faster p50 / rps (target ≥ 5)']];
  for (const k of Object.keys(r.pcloud)) {
    rows.push([k, r.pcloud[k]!.latencyMs.p50, r.pcloud[k]!.latencyMs.p99, r.pcloud[k]!.rps, r.moto[k]!.latencyMs.p50, r.moto[k]!.latencyMs.p99, r.moto[k]!.rps, `${r.pcloudFasterBy[k]!.p50}× / ${r.pcloudFasterBy[k]!.rps}×`]);
  }
  console.log(table(rows));
  if ('skipped' in r.postgres) console.log(`on PostgreSQL: skipped (${r.postgres.skipped})`);
  else {
    const pgRows: (string | number)[][] = [['call', 'p50', 'p99 (target ≤ 10 ms)', 'req/s', 'p50 / SQLite', 'p99 / SQLite']];
    for (const [k, f] of Object.entries(r.postgres.pcloud)) pgRows.push([k, f.latencyMs.p50, f.latencyMs.p99, f.rps, r.postgres.overSqlite[k]!.p50, r.postgres.overSqlite[k]!.p99]);
    console.log(`pcloud with its state in PostgreSQL (same calls, same run):\n${table(pgRows)}`);
  }
  const floor = r.machineFloor.latencyMs;
  console.log(`this machine's floor (the same client against a server that does nothing): p50 ${floor.p50} ms, p99 ${floor.p99} ms, ${r.machineFloor.rps} req/s`);
  console.log('written to', writeResult('describe', r));
}

if (want('launch-pg')) {
  const r = await benchLaunchPg({ dataDir, count: fleet, atOnce: 4, instanceType: process.env.BENCH_INSTANCE_TYPE ?? 't3.micro' });
  // Skipped (no PostgreSQL here): the figures of a run where there was one are kept.
  if ('skipped' in r) console.log(`\n(m) RunInstances → running on PostgreSQL: skipped (${r.skipped})`);
  else {
    console.log(`\n(m) RunInstances → running (ms), state in PostgreSQL vs SQLite, ${r.count} launches each, same run`);
    const rows: (string | number)[][] = [['', 'SQLite p50', 'p95', 'wall', 'PostgreSQL p50', 'p95', 'wall', `PG / SQLite p50 (target ≤ ${r.target.pgOverSqliteP50})`, 'p95', 'wall', 'CPU-s a launch: server SQLite / server PG / PG cluster']];
    for (const [k, f] of [['one at a time', r.oneAtATime], [`${r.atOnce} at a time`, r.fewAtOnce]] as const) {
      rows.push([k, f.sqlite.p50, f.sqlite.p95, f.sqlite.wallMs, f.postgres.p50, f.postgres.p95, f.postgres.wallMs, f.pgOverSqlite.p50, f.pgOverSqlite.p95, f.pgOverSqlite.wall, `${f.sqlite.serverCpuSPerLaunch} / ${f.postgres.serverCpuSPerLaunch} / ${f.clusterCpuSPerLaunch}`]);
    }
    console.log(table(rows));
    console.log(`one poll (DescribeInstanceStatus of a running instance), CPU ms: SQLite server ${r.pollCostMs.sqlite.server}; PG server ${r.pollCostMs.postgres.server} + cluster ${r.pollCostMs.postgres.cluster}; polls a launch one at a time ${r.oneAtATime.pollsPerLaunch.sqlite} / ${r.oneAtATime.pollsPerLaunch.postgres}`);
    console.log(`target ${r.target.met ? 'met' : 'MISSED'}: PG / SQLite p50 ${r.target.measured} (≤ ${r.target.pgOverSqliteP50})`);
    console.log('written to', writeResult('launch-pg', r));
  }
}

if (want('container')) {
  const r = await benchContainer({ dataDir, runs, settleMs, instanceType: process.env.BENCH_INSTANCE_TYPE ?? 't3.micro' });
  console.log(`\n(g) One ${r.instanceType} container with a user-data script, ${r.runs} runs: RunInstances → running and → status ok (ms), bare nspawn of the same image and seed alongside`);
  console.log(table([
    ['bare → READY p50', 'bare → done p50', 'pcloud → running p50', 'p95', 'pcloud → ok p50', 'p95', 'mark on console at ok'],
    [r.bare.readyMs.p50, r.bare.okMs?.p50 ?? '(no protocol)', r.pcloud.runningMs.p50, r.pcloud.runningMs.p95, r.pcloud.okMs.p50, r.pcloud.okMs.p95, r.pcloud.userDataMarkOnConsoleAtOk],
  ]));
  const c = r.cpuPerBoot;
  console.log(table([
    ['host CPU-s per boot (p50)', 'total', 'instance unit', 'server', 'shared units'],
    ['to running', c.toRunning.totalS.p50, c.toRunning.unitS.p50, c.toRunning.serverS.p50, c.toRunning.sharedS.p50],
    ['to ok', c.toOk.totalS.p50, c.toOk.unitS.p50, c.toOk.serverS.p50, c.toOk.sharedS.p50],
  ]));
  console.log(`idle memory (MiB, p50, ${r.idleMemoryMiB.settleMs} ms after ok): current ${r.idleMemoryMiB.current.p50} (anon ${r.idleMemoryMiB.anon.p50}, file ${r.idleMemoryMiB.file.p50}); leftovers: ${r.leftovers.length}`);
  console.log('written to', writeResult('container', r));
}

if (want('fleet')) {
  const r = await benchFleet({ dataDir, count: fleet, instanceType: process.env.BENCH_INSTANCE_TYPE ?? 't3.micro' });
  console.log(`\n(h) ${r.count} in one RunInstances call, with user-data: all running / all ok (ms), ${r.count} bare nspawn boots at once alongside`);
  console.log(table([
    ['bare all READY', 'bare all done', 'pcloud all running', 'pcloud all ok', 'statuses', 'CPU-s to all running', 'CPU-s to all ok'],
    [r.bare.readyMs.all, r.bare.okMs?.all ?? '(no protocol)', r.pcloud.runningMs.all ?? 'not all', r.pcloud.doneMs?.all ?? 'not all', JSON.stringify(r.pcloud.statuses), r.hostCpu.toAllRunning.totalS, r.hostCpu.toAllOk?.totalS ?? ''],
  ]));
  for (const f of r.pcloud.failed.slice(0, 5)) console.log(`ended during the launch: ${f}`);
  console.log(`leftovers: ${r.leftovers.length}; written to`, writeResult('fleet', r));
}

if (want('fleet-large')) {
  const r = await benchFleetLarge({ dataDir, count: Number(process.env.BENCH_FLEET_LARGE ?? 100), instanceType: process.env.BENCH_INSTANCE_TYPE ?? 't3.micro' });
  const d = r.describeInstancesMs;
  console.log(`\n(i) ${r.count} in one RunInstances call: all running in ${r.pcloud.runningMs.all ?? `(not all: ${JSON.stringify(r.pcloud.statuses)})`} ms (${r.hostCpu.toAllRunning.totalS} CPU-s); DescribeInstances (ms):`);
  console.log(table([
    ['', 'p50', 'p99', 'max', 'n'],
    ['before the launch', d.beforeLaunch.p50, d.beforeLaunch.p99, d.beforeLaunch.max, d.beforeLaunch.n],
    ['during the launch', d.duringLaunch.p50, d.duringLaunch.p99, d.duringLaunch.max, d.duringLaunch.n],
    ['all running', d.allRunning.p50, d.allRunning.p99, d.allRunning.max, d.allRunning.n],
  ]));
  console.log(`leftovers: ${r.leftovers.length}; written to`, writeResult('fleet-large', r));
}

if (want('dense')) {
  const r = await benchDense({ dataDir, count: Number(process.env.BENCH_DENSE ?? 200), settleMs, idleMs: Number(process.env.BENCH_IDLE_MS ?? 10_000), timeoutMs: Number(process.env.BENCH_DENSE_TIMEOUT_MS ?? 1_800_000) });
  console.log(`\n(j) ${r.count} idle t3.nano at once: ${JSON.stringify(r.statuses)}, all running ${r.runningMs?.all} ms, all done ${r.doneMs?.all} ms; memory ${r.idle.memoryMiB.current.p50} MiB each (p50), ${r.idle.memoryMiB.totalCurrent} MiB in all; idle CPU ${r.idle.cpuMilliCoresAll} thousandths of a core in all`);
  console.log(`terminated in ${r.terminateMs} ms; leftovers: ${r.leftovers.length}; written to`, writeResult('dense', r));
}

if (want('microvm')) {
  const r = await benchMicrovm({ dataDir, runs: Number(process.env.BENCH_VM_RUNS ?? 3) });
  console.log(`\n(e) microvm (${r.accel}): RunInstances c5.large → running and → ok vs a bare QEMU boot of the same kernel, initrd and disk to the same milestone (ms)`);
  console.log(table([
    ['', 'bare p50', 'bare max', 'pcloud p50', 'pcloud max', 'ratio p50 (target ≤ 1.1)'],
    ['running (READY)', r.bare.readyMs.p50, r.bare.readyMs.max, r.pcloud.runningMs.p50, r.pcloud.runningMs.max, r.ratioP50.running],
    ['ok', r.bare.okMs.p50, r.bare.okMs.max, r.pcloud.okMs.p50, r.pcloud.okMs.max, r.ratioP50.ok],
  ]));
  console.log('written to', writeResult('microvm', r));
}

if (want('iam')) {
  const r = benchIam();
  console.log(`\n(k) IAM policy evaluation: ${r.policies} policies (${r.statements} statements), ${r.requests} kinds of request; ns per request (target: ≤ 0.1 ms added)`);
  console.log(table([
    ['', 'p50', 'p99', 'max'],
    ['root (no evaluation)', r.perRequestNs.baselineRoot.p50, r.perRequestNs.baselineRoot.p99, r.perRequestNs.baselineRoot.max],
    ['evaluate()', r.perRequestNs.evaluate.p50, r.perRequestNs.evaluate.p99, r.perRequestNs.evaluate.max],
  ]));
  console.log(`added: p50 ${r.addedMs.p50} ms, p99 ${r.addedMs.p99} ms (${r.target.met ? 'met' : 'missed'}); written to`, writeResult('iam', r));
}

if (want('lambda')) {
  const r = await benchLambda({ dataDir, runs: Number(process.env.BENCH_INVOKES ?? 50), seconds: 5 });
  console.log('\n(f) Lambda invoke through nginx vs straight to the same function socket (ms; targets: cold ≤ 20 ms p50, warm overhead ≤ 1 ms)');
  const rows: (string | number)[][] = [['function', 'nginx p50', 'nginx p95', 'socket p50', 'socket p95', 'nginx overhead p50', 'warm invokes/s (nginx, 16 at once)']];
  for (const [k, v] of Object.entries(r.results) as [string, { nginx: { p50: number; p95: number }; socket: { p50: number; p95: number }; overheadP50Ms: number; invokesPerSecond?: number }][]) {
    rows.push([k, v.nginx.p50, v.nginx.p95, v.socket.p50, v.socket.p95, v.overheadP50Ms, v.invokesPerSecond ?? '']);
  }
  console.log(table(rows));
  console.log('written to', writeResult('lambda', r));
}

if (want('vxlan')) {
  // Loaded only when asked: it boots the test hosts (test/host), which no other part needs.
  const { benchVxlan, reportVxlan } = await import('./vxlan.js');
  reportVxlan(await benchVxlan({ requests: Number(process.env.BENCH_VXLAN_REQUESTS ?? 200) }), '(l) Instance to instance in one VPC, same host vs across hosts over VXLAN (ms)');
}

if (want('verdicts') || TARGET_PARTS.some(want)) {
  const dir = join(process.cwd(), 'bench/results');
  const found: Record<string, unknown> = {};
  for (const part of TARGET_PARTS) {
    const file = join(dir, `${part}.json`);
    // microvm.json from before issue 14 has no ok milestone: not read as this part's.
    if (existsSync(file)) {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { ratioP50?: unknown };
      if (part !== 'microvm' || typeof data.ratioP50 === 'object') found[part] = data;
    }
  }
  const v = verdicts(found);
  console.log('\nIssue 14 targets');
  console.log(table([['target', 'limit', 'measured', 'met', 'at'], ...v.map((x) => [x.target, `${x.limit} ${x.unit}`, x.measured ?? '-', x.met === undefined ? '-' : x.met ? 'yes' : 'NO', x.at ?? ''])]));
  for (const x of v) if (x.reason) console.log(`- ${x.target}: ${x.reason}`);
  console.log('written to', writeResult('targets', { targets: v }));
}
