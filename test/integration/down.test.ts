/**
 * `pcloud down` for real, on a data dir of this suite's own (the run's shared one is left alone): a server with a
 * running container and a function behind a function URL, stopped (its units run on without it, nginx holding the
 * function-URL port); `down` refused while the server runs, then stopping every unit of the data dir so that another
 * program can take the port, its VPC router kept; a second `down` finds nothing running; the next `pcloud serve`
 * brings the instance back to running and answers its function URL again; `down --purge` leaves no unit, pool
 * mount, namespace, NFS filter or file of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateFunctionCommand, CreateFunctionUrlConfigCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { nsPath, routerNs } from '../../src/host/network.js';
import { Owners } from '../../src/host/owners.js';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { isFinal } from '../../src/host/units/types.js';
import { until } from '../support/api.js';
import { CLI, CREDS, freePort, startReal, waitForState, type RealServer } from '../support/real.js';
import { lambdaRole } from '../support/roles.js';
import { BASE, sweepRun } from '../support/runs.js';

const dataDir = join(BASE, `down-${new Date().toISOString().replace(/[:.]/g, '-')}`);
let srv: RealServer | undefined;
let lambdaPort = 0;

beforeAll(async () => {
  lambdaPort = await freePort();
  srv = await startReal({ dataDir, env: { PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${lambdaPort}` } });
});
afterAll(async () => {
  await srv?.stop();
  await sweepRun(dataDir);
});

function down(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [CLI, 'down', '--data', dataDir, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** The data dir's units that have not ended (the direct manager's records). */
async function unitsRunning(): Promise<string[]> {
  const units = new DirectUnitManager(join(dataDir, 'run'));
  try {
    return (await units.list('')).filter((u) => !isFinal(u.state)).map((u) => u.name).sort();
  } finally {
    units.close();
  }
}

/** Processes whose command line names the data dir (supervisors, nginx, nspawn, dnsmasq, function sockets). */
function processesOfDataDir(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(`${dataDir}/`)) out.push(`${pid} ${cmd.trim()}`);
    } catch { /* gone */ }
  }
  return out;
}

/** Whether this process can listen on the function-URL port (another nginx could). */
function portTakeable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function zip(file: string, text: string): Uint8Array {
  const d = mkdtempSync(join(tmpdir(), 'pcloud-down-fn-'));
  writeFileSync(join(d, file), text);
  execFileSync('zip', ['-q', 'p.zip', file], { cwd: d });
  return new Uint8Array(readFileSync(join(d, 'p.zip')));
}

const answers = async (url: string) => (await fetch(url, { method: 'POST', body: '{}' }).catch(() => undefined))?.status;

describe('pcloud down', () => {
  it('stops every unit of a data dir (never a live server\'s); the next server brings its instance back; --purge leaves nothing of it', async () => {
    const server = srv!;
    if (server.unitManager !== 'direct') throw new Error(`this suite reads the direct manager's records; the server runs ${server.unitManager} units`);
    const [inst] = (await server.ec2.send(new RunInstancesCommand({ ImageId: server.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances!;
    const id = inst!.InstanceId!;
    const lambda = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
    const name = `down-${Date.now().toString(36)}`;
    await lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: await lambdaRole(server.endpoint, CREDS, 'down-test'),
      Code: { ZipFile: zip('index.mjs', 'export const handler = async () => ({ statusCode: 200, body: "up" });') },
    }));
    const url = (await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }))).FunctionUrl!;
    expect(new URL(url).port).toBe(String(lambdaPort));
    expect(await answers(url)).toBe(200);
    const vpcId = (await waitForState(server.ec2, id, 'running')).VpcId!;

    // While the server holds the data dir: refused, saying how to stop it, and nothing stopped.
    const refused = down();
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`pcloud: data dir ${dataDir} is in use by pcloud serve --listen 127.0.0.1:${server.port}, pid ${server.child.pid}: stop it first (kill -TERM ${server.child.pid}`);
    await server.stop();
    // Units outlive their server: the instance, its VPC's DNS, nginx on the function-URL port, the function's socket.
    const before = await unitsRunning();
    expect(before).toEqual(expect.arrayContaining([`pcloud-instance@${id}`, `pcloud-dns@${vpcId}`, 'pcloud-nginx']));
    expect(before.some((u) => u.startsWith('pcloud-fn'))).toBe(true);
    expect(await portTakeable(lambdaPort)).toBe(false);

    const first = down();
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`stopped ${before.length} units of ${dataDir}: `);
    for (const u of before) expect(first.stdout).toContain(u);
    expect(first.stdout).toContain(`\`pcloud serve --data ${dataDir}\` starts the 1 instance again`);
    expect(await unitsRunning()).toEqual([]);
    expect(processesOfDataDir()).toEqual([]);
    // Another nginx could take the port now; the router stays until --purge.
    expect(await portTakeable(lambdaPort)).toBe(true);
    expect(existsSync(nsPath(routerNs(vpcId)))).toBe(true);
    expect(down()).toMatchObject({ status: 0, stdout: `nothing of ${dataDir} runs\n` });

    // The next server: the instance that ran is launched again (its disk and addresses kept), the URL answers.
    await server.restart();
    const back = await waitForState(server.ec2, id, 'running', 120_000);
    expect(back.PrivateIpAddress).toBe(inst!.PrivateIpAddress);
    expect(await until(async () => (await answers(url)) === 200, 30_000)).toBe(true);
    await server.stop();

    // --purge: units, the router and the instance's namespace, the NFS filter, the pool and every file.
    const purged = down('--purge');
    expect(purged.status).toBe(0);
    expect(purged.stdout).toContain(`pcloud-instance@${id}`);
    expect(purged.stdout).toContain(routerNs(vpcId));
    expect(purged.stdout).toContain(`unmounted: `);
    expect(purged.stdout).toContain(`${dataDir}/pool`);
    expect(purged.stdout).toMatch(new RegExp(`removed ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`));
    expect(existsSync(dataDir)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`${dataDir}/`);
    expect(existsSync(nsPath(routerNs(vpcId)))).toBe(false);
    expect(existsSync(nsPath(`pcloud-${id}`))).toBe(false);
    expect(await new Owners('netns', dataDir).recorded()).toEqual([]);
    expect(processesOfDataDir()).toEqual([]);
    expect(await portTakeable(lambdaPort)).toBe(true);
    expect(down('--purge')).toMatchObject({ status: 0, stdout: `no data dir at ${dataDir}: nothing of it runs\n` });
  });
});
