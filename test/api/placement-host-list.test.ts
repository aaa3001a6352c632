/**
 * `pcloud host list` (the compiled CLI; `npm run build` first) on the data dir of a server that is running: it reads the
 * database without writing to it, and shows each host's zone, state, runtimes, what its instances hold, and its
 * heartbeat's age; a host not heard from shows lost.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { eq } from 'drizzle-orm';
import { hosts } from '../../src/db/schema.js';
import { startApi, type TestApi } from '../support/api.js';

const CLI = join(new URL('../../', import.meta.url).pathname, 'dist/src/cli/main.js');

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

function pcloud(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
}

describe('pcloud host list', () => {
  it('lists the hosts with their capacity, what their instances hold and their heartbeat, as a table and as JSON', async () => {
    await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 2, MaxCount: 2 }));
    const now = Date.now();
    await api.cloud.db.insert(hosts).values({
      id: 'h-0000000000000000a', name: 'far\taway\nhost', availabilityZone: 'us-east-1b', address: '10.200.0.9', runtimes: ['container', 'microvm'],
      accel: 'kvm', vcpus: 32, memoryMiB: 131_072, state: 'available', bootId: null, heartbeatAt: now - 120_000, createdAt: now,
    });
    const local = (await api.cloud.hosts.local())!;

    const table = pcloud(['host', 'list', '--data', api.cloud.dataDir]);
    expect(table.status, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('ID\tNAME\tZONE\tSTATE\tRUNTIMES\tACCEL\tVCPUS\tMEMORY_MIB\tINSTANCES\tHEARTBEAT');
    expect(lines).toHaveLength(3);
    const [mine, far] = [lines[1]!.split('\t'), lines[2]!.split('\t')];
    expect(mine.slice(0, 9)).toEqual([local.id, 'fake-host', 'us-east-1a', 'available', 'container,microvm,q35', 'tcg', '4/4', '2048/16384', '2']);
    expect(mine[9]).toMatch(/^\d+s ago$/);
    // A name's control characters cannot break the table; a host not heard from is lost.
    expect(far).toEqual(['h-0000000000000000a', 'far?away?host', 'us-east-1b', 'available,lost', 'container,microvm', 'kvm', '0/32', '0/131072', '0', expect.stringMatching(/^12\ds ago$/)]);

    const json = pcloud(['host', 'list', '--json', '--data', api.cloud.dataDir], { PCLOUD_CPU_OVERCOMMIT: '2' });
    expect(json.status, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(rows[0]).toMatchObject({
      id: local.id, name: 'fake-host', availabilityZone: 'us-east-1a', address: null, state: 'available', lost: false, accel: 'tcg', instances: 2,
      vcpus: { used: 4, total: 4, limit: 8 }, memoryMiB: { used: 2048, total: 16_384, limit: 24_576 },
    });
    expect(rows[1]).toMatchObject({ name: 'far\taway\nhost', lost: true, vcpus: { used: 0, total: 32, limit: 64 } });
    await api.cloud.db.delete(hosts).where(eq(hosts.id, 'h-0000000000000000a'));
  });

  it('says what to do where there is no database, and writes none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pcloud-nodb-'));
    const res = pcloud(['host', 'list', '--data', dir]);
    expect(res.status).toBe(1);
    expect(res.stderr).toBe(`pcloud: no state database in ${dir}: start \`pcloud serve --data ${dir}\` first\n`);
    expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('');
  });
});
