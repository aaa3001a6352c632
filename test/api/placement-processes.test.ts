/**
 * Placement across processes on one database (several `pcloud serve` on one SQLite file): processes that place and
 * insert at once, in one transaction (write-locked from its start, as every one openDb gives) as RunInstances does, never over-commit a host, and none fails on the
 * database's lock: each call either places or is refused whole with InsufficientInstanceCapacity. Runs the compiled
 * code (`npm run build` first) in child processes, so the transactions truly overlap.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultHostsConfig } from '../../src/cloud/config.js';
import { hostUsage } from '../../src/cloud/hosts/placement.js';
import { openDb } from '../../src/db/index.js';
import { hosts } from '../../src/db/schema.js';

const DIST = join(new URL('../../', import.meta.url).pathname, 'dist/src');
const HOST = 'h-00000000000000042';
/** 200 vCPUs with no over-commit: a hundred t3.micro. */
const CONFIG = { availabilityZones: ['us-east-1a'], hosts: { ...defaultHostsConfig, cpuOvercommit: 1, memoryOvercommit: 1 } };

/** One process: `tries` launches of one t3.micro each, placed and inserted in one transaction; what became of them. */
const CHILD = `
import { openDb } from ${JSON.stringify(join(DIST, 'db/index.js'))};
import { instances } from ${JSON.stringify(join(DIST, 'db/schema.js'))};
import { instanceTypes } from ${JSON.stringify(join(DIST, 'cloud/catalog.js'))};
import { place } from ${JSON.stringify(join(DIST, 'cloud/hosts/placement.js'))};
import { write } from ${JSON.stringify(join(DIST, 'db/store.js'))};
const [file, tag, tries, startAt] = process.argv.slice(1);
const config = JSON.parse(process.env.PLACEMENT_CONFIG);
const db = openDb(file);
const type = instanceTypes.get('t3.micro');
const out = { placed: 0, refused: 0, other: [] };
// All of them at once: wait for the common start.
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1));
for (let i = 0; i < Number(tries); i++) {
  try {
    await write(db, async (tx) => {
      const [hostId] = await place(tx, config, { type, runtime: 'container', zone: 'us-east-1a', min: 1, max: 1 });
      const id = 'i-' + tag + String(i).padStart(16, '0');
      await tx.insert(instances).values({
        id, accountId: '111111111111', reservationId: 'r-' + id.slice(2), launchIndex: 0, imageId: 'ami-0', instanceType: 't3.micro', runtime: 'container',
        state: 'pending', launchTime: Date.now(), subnetId: 'subnet-0', vpcId: 'vpc-0', availabilityZone: 'us-east-1a', privateIp: '10.0.0.' + i,
        macAddress: '02:00:00:00:00:00', networkInterfaceId: 'eni-' + id.slice(2), securityGroupIds: [], rootVolumeId: 'vol-' + id.slice(2),
        rootVolumeSizeGiB: 8, attributes: {}, updatedAt: Date.now(), hostId,
      });
    });
    out.placed++;
  } catch (err) {
    if (err.code === 'InsufficientInstanceCapacity') out.refused++;
    else out.other.push(String(err.message));
  }
}
db.$client.close();
process.stdout.write(JSON.stringify(out));
`;

type Outcome = { placed: number; refused: number; other: string[] };

function child(file: string, tag: string, tries: number, startAt: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', CHILD, file, tag, String(tries), String(startAt)], {
      env: { ...process.env, PLACEMENT_CONFIG: JSON.stringify(CONFIG) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Outcome) : reject(new Error(`child ${tag} exited ${code}: ${err}`))));
  });
}

describe('placement across processes on one database', () => {
  it('never over-commits a host, and every call either places or is refused whole', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'pcloud-placement-')), 'pcloud.db');
    const db = openDb(file);
    const now = Date.now();
    await db.insert(hosts).values({
      id: HOST, name: 'shared', availabilityZone: 'us-east-1a', address: null, runtimes: ['container'], accel: 'tcg', vcpus: 200, memoryMiB: 262_144,
      state: 'available', bootId: null, heartbeatAt: now + 600_000, createdAt: now,
    });
    try {
      const startAt = Date.now() + 1500;
      const results = await Promise.all(['a', 'b', 'c'].map((tag) => child(file, tag, 50, startAt)));
      expect(results.flatMap((r) => r.other)).toEqual([]);
      expect(results.reduce((n, r) => n + r.placed, 0)).toBe(100);
      expect(results.reduce((n, r) => n + r.refused, 0)).toBe(50);
      expect((await hostUsage(db)).get(HOST)).toEqual({ vcpus: 200, memoryMiB: 102_400, instances: 100 });
    } finally {
      db.$client.close();
    }
  });
});
