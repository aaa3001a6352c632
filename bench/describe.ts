/**
 * (b) DescribeInstances with 10,000 instances in the database: latency and requests per second, next to moto_server
 * serving the same calls with the same number of instances, in the same run; and pcloud with its state in PostgreSQL
 * (a throwaway Debian cluster) beside it on SQLite (issue 17: p99 at 10,000 instances ≤ 10 ms); and this machine's
 * floor for such a call (machineFloor), measured the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Cloud } from '../src/cloud/index.js';
import { images, instances } from '../src/db/tables.js';
import { newId } from '../src/cloud/ids.js';
import { SYSTEM_ACCOUNT } from '../src/cloud/images.js';
import { defaultMetadataOptions } from '../src/cloud/instances/index.js';
import { benchDown, ec2Call, freePort, round, stopOnInterrupt, summary, type Creds } from './lib.js';
import { intToIp } from '../src/cloud/ip.js';
import { write } from '../src/db/store.js';
import { postgresMissing, startPostgres } from '../test/support/postgres.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

/** Fill a fresh data dir's database with `count` stopped instances (rows only: no disks or units). */
async function seed(dataDir: string, count: number, accountId: string, database?: string): Promise<string[]> {
  const cloud = await Cloud.open({ dataDir, database });
  const ids: string[] = [];
  try {
    await cloud.accounts.putKey({ accessKeyId: 'AKIDPCLOUDBENCH0002', secretAccessKey: 'bench', accountId });
    const subnet = await cloud.network.pickSubnet(accountId, {});
    const sg = (await cloud.network.securityGroups(accountId))[0]!;
    const imageId = newId('ami');
    await cloud.db.insert(images).values({ id: imageId, ownerId: SYSTEM_ACCOUNT, name: 'bench', architecture: 'x86_64', state: 'available', rootPath: '/nonexistent', source: 'bench', createdAt: Date.now() });
    const now = Date.now();
    await write(cloud.db, async (tx) => {
      for (let i = 0; i < count; i++) {
        const id = newId('i');
        ids.push(id);
        await tx.insert(instances).values({
          id, accountId, reservationId: newId('r'), launchIndex: 0, imageId, instanceType: i % 2 ? 't3.micro' : 't3.small',
          runtime: 'container', keyName: null, state: 'stopped', launchTime: now + i, subnetId: subnet.id, vpcId: subnet.vpcId,
          availabilityZone: subnet.availabilityZone, privateIp: intToIp(0xac100000 + i + 4), macAddress: '0e:00:00:00:00:01',
          networkInterfaceId: newId('eni'), securityGroupIds: [sg.id], rootVolumeId: newId('vol'), rootVolumeSizeGiB: 8,
          attributes: { disableApiTermination: false, disableApiStop: false, instanceInitiatedShutdownBehavior: 'stop', ebsOptimized: false, monitoring: false, sourceDestCheck: true, hibernation: false, metadataOptions: defaultMetadataOptions },
          updatedAt: now,
        });
      }
    });
  } finally {
    await cloud.close();
  }
  // PostgreSQL's planner, told how many rows there now are, as its autovacuum tells it within a minute of such a load.
  if (database) {
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    try {
      await client.query('ANALYZE');
    } finally {
      await client.end();
    }
  }
  return ids;
}

function waitFor(child: ChildProcess, marker: string, stream: 'stdout' | 'stderr' = 'stdout'): Promise<void> {
  let out = '';
  return new Promise((resolve, reject) => {
    child[stream]!.on('data', (b: Buffer) => { out += b.toString(); if (out.includes(marker)) resolve(); });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out.slice(-500)}`)));
  });
}

async function measure(endpoint: string, creds: Creds, calls: Record<string, (i: number) => Record<string, string>>, n: number, seconds: number) {
  const out: Record<string, { latencyMs: ReturnType<typeof summary>; rps: number }> = {};
  for (const [name, params] of Object.entries(calls)) {
    // Warm up (JIT, caches): 100 requests or 2 s, whichever comes first.
    const warmEnd = performance.now() + 2000;
    for (let i = 0; i < 100 && performance.now() < warmEnd; i++) await ec2Call(endpoint, creds, params(i));
    const lat: number[] = [];
    // At most n requests or 15 s, whichever comes first (moto takes seconds per filtered call at this size).
    const latencyEnd = performance.now() + 15_000;
    for (let i = 0; i < n && performance.now() < latencyEnd; i++) {
      const t = performance.now();
      const r = await ec2Call(endpoint, creds, params(i));
      lat.push(performance.now() - t);
      if (r.status !== 200) throw new Error(`${name}: ${r.body.slice(0, 300)}`);
    }
    let done = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        await ec2Call(endpoint, creds, params(i));
        i += 8;
        done++;
      }
    }));
    out[name] = { latencyMs: summary(lat), rps: round(done / seconds, 0) };
  }
  return out;
}

/** A pcloud server on a fresh data dir seeded with `count` instances (its state in `database`, else SQLite); its end. */
async function serveSeeded(count: number, accountId: string, creds: Creds, database?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pcloud-bench-describe-'));
  const ids = await seed(dataDir, count, accountId, database);
  const port = await freePort();
  // The bin itself, as users run it (its node's flags are on its first line).
  const server = spawn(CLI, [
    'serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--no-image', '--metrics-listen', 'off', '--access-log', 'off',
    ...(database ? ['--database', database] : []),
  ], {
    // A Lambda port of its own: another pcloud of this host may serve function URLs on the default one.
    env: {
      ...process.env, PCLOUD_ACCESS_KEY_ID: creds.accessKeyId, PCLOUD_SECRET_ACCESS_KEY: creds.secretAccessKey,
      PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${await freePort()}`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ended = new Promise((r) => server.once('exit', r));
  // Its units (nginx on its Lambda port, the rest), namespaces, pool and files taken down (bench/lib.ts).
  const stop = async () => {
    forget();
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await ended;
    await benchDown(dataDir, { purge: true });
  };
  const forget = stopOnInterrupt(stop);
  try {
    await waitFor(server, 'pcloud serving on');
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint: `http://127.0.0.1:${port}`, ids, stop };
}

/**
 * This machine's floor: the same client, signing and keep-alive connection against a server that does nothing (it
 * answers every request with a fixed body the size of a DescribeInstances answer by id), measured as pcloud is. What
 * pcloud's figures add to it is pcloud's; the rest is the machine (loopback, scheduling: on a 2-core VM its p99 alone
 * is several milliseconds).
 */
async function machineFloor(opts: { requests: number; seconds: number }, creds: Creds) {
  const port = await freePort();
  const answer = `<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse>${'x'.repeat(4500)}</DescribeInstancesResponse>`;
  const server = spawn(process.execPath, ['-e', `
    const answer = ${JSON.stringify(answer)};
    require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => res.end(answer)); })
      .listen(${port}, '127.0.0.1', () => console.log('listening'));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const forget = stopOnInterrupt(() => { server.kill('SIGTERM'); return Promise.resolve(); });
  try {
    await waitFor(server, 'listening');
    return (await measure(`http://127.0.0.1:${port}`, creds, { 'by id': () => ({ Action: 'DescribeInstances', 'InstanceId.1': 'i-0123456789abcdef0' }) }, opts.requests, opts.seconds))['by id']!;
  } finally {
    forget();
    server.kill('SIGTERM');
  }
}

const callsOf = (list: string[]) => ({
  'by id': (i: number) => ({ Action: 'DescribeInstances', 'InstanceId.1': list[(i * 7919) % list.length]! }),
  'filter type, first page of 10': () => ({ Action: 'DescribeInstances', 'Filter.1.Name': 'instance-type', 'Filter.1.Value.1': 't3.micro', MaxResults: '10' }),
});

export async function benchDescribe(opts: { count: number; requests: number; seconds: number }) {
  const accountId = '000000000000';
  const creds = { accessKeyId: 'AKIDPCLOUDBENCH0002', secretAccessKey: 'bench' };
  const sqlite = await serveSeeded(opts.count, accountId, creds);
  let sqliteResult;
  const motoPort = await freePort();
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(motoPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitFor(moto, 'Running on', 'stderr');
    const motoEndpoint = `http://127.0.0.1:${motoPort}`;
    const motoCreds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
    const ami = /<imageId>(ami-[0-9a-f]+)<\/imageId>/.exec((await ec2Call(motoEndpoint, motoCreds, { Action: 'DescribeImages', 'Owner.1': 'amazon' })).body)![1]!;
    const motoIds: string[] = [];
    for (let made = 0; made < opts.count; made += 500) {
      const n = Math.min(500, opts.count - made);
      const r = await ec2Call(motoEndpoint, motoCreds, { Action: 'RunInstances', ImageId: ami, InstanceType: made % 1000 ? 't3.micro' : 't3.small', MinCount: String(n), MaxCount: String(n) });
      motoIds.push(...[...r.body.matchAll(/<instanceId>(i-[0-9a-f]+)<\/instanceId>/g)].map((m) => m[1]!));
    }
    const pcloud = await measure(sqlite.endpoint, creds, callsOf(sqlite.ids), opts.requests, opts.seconds);
    const motoRes = await measure(motoEndpoint, motoCreds, callsOf(motoIds), opts.requests, opts.seconds);
    const ratios = Object.fromEntries(Object.keys(pcloud).map((k) => [k, {
      p50: round(motoRes[k]!.latencyMs.p50 / pcloud[k]!.latencyMs.p50, 1),
      rps: round(pcloud[k]!.rps / motoRes[k]!.rps, 1),
    }]));
    sqliteResult = { instances: opts.count, pcloud, moto: motoRes, pcloudFasterBy: ratios };
  } finally {
    moto.kill('SIGTERM');
    await sqlite.stop();
  }
  // After the SQLite server stopped: each server holds the host's Lambda port while it runs.
  const postgres = await onPostgres(opts, accountId, creds, sqliteResult.pcloud);
  return { ...sqliteResult, postgres, machineFloor: await machineFloor(opts, creds) };
}

/** The same calls with the state in PostgreSQL, and their p50 and p99 over SQLite's (skipped without PostgreSQL). */
async function onPostgres(opts: { count: number; requests: number; seconds: number }, accountId: string, creds: Creds, onSqlite: Awaited<ReturnType<typeof measure>>) {
  const missing = postgresMissing();
  if (missing) return { skipped: missing };
  const pg = await startPostgres();
  try {
    const server = await serveSeeded(opts.count, accountId, creds, pg.url);
    try {
      const figures = await measure(server.endpoint, creds, callsOf(server.ids), opts.requests, opts.seconds);
      const overSqlite = Object.fromEntries(Object.keys(figures).map((k) => [k, {
        p50: round(figures[k]!.latencyMs.p50 / onSqlite[k]!.latencyMs.p50, 2),
        p99: round(figures[k]!.latencyMs.p99 / onSqlite[k]!.latencyMs.p99, 2),
      }]));
      return { pcloud: figures, overSqlite, targetP99Ms: 10 };
    } finally {
      await server.stop();
    }
  } finally {
    await pg.stop();
  }
}
