/**
 * A tenant flooding its console does not fill the host's disk (a real container and a real function through a real
 * `pcloud serve`): what it writes to /dev/console or prints is kept bounded, at most two files of 1 MiB under the direct manager (console-log.ts; under
 * systemd the journal keeps it within its own limits), and GetConsoleOutput still ends with its latest output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetConsoleOutputCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CREDS, describeOne, leaderOf, startReal, type RealServer, waitForState } from '../support/real.js';
import { until } from '../support/api.js';
import { lambdaRole } from '../support/roles.js';

let srv: RealServer;
beforeAll(async () => { srv = await startReal(); });
afterAll(async () => { await srv?.stop(); });

describe('a container flooding its console', () => {
  it('leaves at most two bounded files on disk, runs on, and GetConsoleOutput gives its latest output', async () => {
    const res = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = res.Instances![0]!.InstanceId!;
    await waitForState(srv.ec2, id, 'running', 90_000, 100);
    // As root in the container (its namespaces, through its leader): 60 MB to /dev/console, then a last line.
    execFileSync('nsenter', ['-t', String(leaderOf(id)), '-U', '-m', '-u', '-i', '-n', '-p', '--', 'sh', '-c',
      "head -c 60000000 /dev/zero | tr '\\0' A > /dev/console; echo; echo flood-over > /dev/console"], { timeout: 120_000 });
    const output = async () => Buffer.from((await srv.ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }))).Output ?? '', 'base64').toString();
    const latest = await until(async () => { const o = await output(); return o.includes('flood-over') ? o : undefined; }, 60_000, 100);
    expect(latest.length).toBeGreaterThan(60_000);
    expect(latest.slice(0, 1000)).toMatch(/^A+$/);
    const dir = join(srv.dataDir, 'run/units', `pcloud-instance@${id}`);
    if (srv.unitManager === 'direct') {
      const files = readdirSync(dir).filter((f) => f.startsWith('console'));
      expect(files.sort()).toEqual(['console.log', 'console.log.1']);
      expect(files.reduce((n, f) => n + statSync(join(dir, f)).size, 0)).toBeLessThanOrEqual(2 * 1024 * 1024);
    }
    expect((await describeOne(srv.ec2, id)).State?.Name).toBe('running');
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitForState(srv.ec2, id, 'terminated', 90_000, 100);
  });
});

/** The console files of the direct manager's units whose name holds `part`, and their bytes on disk. */
function consoleFiles(part: string): Map<string, number> {
  const units = join(srv.dataDir, 'run/units');
  const out = new Map<string, number>();
  for (const u of readdirSync(units).filter((n) => n.includes(part))) {
    for (const f of readdirSync(join(units, u)).filter((n) => n.startsWith('console'))) out.set(`${u}/${f}`, statSync(join(units, u, f)).size);
  }
  return out;
}

describe('a function printing 30 MB at every invoke', () => {
  it('leaves at most two bounded files per unit on disk, however often it is invoked', async () => {
    const api = new LambdaClient({ endpoint: srv.endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
    const pkg = mkdtempSync(join(tmpdir(), 'pcloud-flood-fn-'));
    writeFileSync(join(pkg, 'h.py'), 'def handler(event, context):\n    print("B" * 30000000)\n    print("printed", event["n"])\n    return "ok"\n');
    execFileSync('zip', ['-q', 'p.zip', 'h.py'], { cwd: pkg });
    const name = `flood-${Date.now().toString(36)}`;
    await api.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'python3.12', Handler: 'h.handler', Role: await lambdaRole(srv.endpoint, CREDS),
      Code: { ZipFile: new Uint8Array(readFileSync(join(pkg, 'p.zip'))) }, Timeout: 60,
    }));
    rmSync(pkg, { recursive: true, force: true });
    try {
      for (let n = 1; n <= 3; n++) {
        const r = await api.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ n })) }));
        expect(r.FunctionError).toBeUndefined();
        expect(Buffer.from(r.Payload!).toString()).toBe('"ok"');
      }
      if (srv.unitManager !== 'direct') return;
      const files = consoleFiles(`-${name}`);
      expect(files.size).toBeGreaterThan(0);
      const perUnit = new Map<string, number>();
      for (const [f, size] of files) perUnit.set(f.split('/')[0]!, (perUnit.get(f.split('/')[0]!) ?? 0) + size);
      for (const [unit, bytes] of perUnit) expect(bytes, unit).toBeLessThanOrEqual(2 * 1024 * 1024);
      // The last invoke's last line is the newest of its unit's console.
      const units = join(srv.dataDir, 'run/units');
      const newest = [...perUnit.keys()].map((u) => readFileSync(join(units, u, 'console.log'), 'utf8'));
      expect(newest.some((text) => text.includes('printed 3'))).toBe(true);
    } finally {
      await api.send(new DeleteFunctionCommand({ FunctionName: name })).catch(() => undefined);
    }
  });
});
