/**
 * `pcloud ps`, `pcloud ps --functions` and `pcloud top` (the compiled CLI) on the data dir of a real `pcloud serve`
 * running a real container: ps shows it running with its Name tag (made safe for the terminal), status and IP, top
 * shows the memory its cgroup holds, ps --functions a created function with its mode, units and URL; the server's
 * /metrics has its CPU and memory series from the same cgroup. A microvm's line in ps and top and its series are
 * checked where one already runs, in vm.test.ts (a boot under TCG is minutes of this host's two cores).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand, TerminateInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { CreateFunctionCommand, CreateFunctionUrlConfigCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CLI, CREDS, ensureImage, freePort, spawnServe, waitForState } from '../support/real.js';
import { BASE, sweepRun } from '../support/runs.js';
import { lambdaRole } from '../support/roles.js';
import { until } from '../support/api.js';

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dataDir = join(BASE, `ps-${stamp}`);
/** A Name tag as a tenant may write it: a newline and a C1 control (CSI) a terminal would act on. */
const NAME = 'web\nnext\u009b31m';

let child: ChildProcess | undefined;
let endpoint = '';
let metricsAt = '';
let lambdaListen = '';
let ec2: EC2Client;
let lambda: LambdaClient;
let inst: Instance;

/** The CLI on the server's data dir, as an operator runs it (its nginx's address from the same setting). */
const pcloud = (args: string[]) => execFileSync(process.execPath, [CLI, ...args, '--data', dataDir], {
  env: { ...process.env, PCLOUD_LAMBDA_LISTEN: lambdaListen }, timeout: 60_000,
}).toString();

/** The table line of `id` in a command's output. */
const lineOf = (out: string, id: string) => out.split('\n').find((l) => l.startsWith(`${id} `));

beforeAll(async () => {
  mkdirSync(dataDir, { recursive: true });
  const imageId = await ensureImage(dataDir);
  const port = await freePort();
  metricsAt = `127.0.0.1:${await freePort()}`;
  lambdaListen = `127.0.0.1:${await freePort()}`;
  ({ child } = await spawnServe(dataDir, port, ['--no-image', '--metrics-listen', metricsAt, '--access-log', 'off'], { PCLOUD_LAMBDA_LISTEN: lambdaListen }));
  endpoint = `http://127.0.0.1:${port}`;
  ec2 = new EC2Client({ endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  lambda = new LambdaClient({ endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  const res = await ec2.send(new RunInstancesCommand({
    ImageId: imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1,
    TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: NAME }] }],
  }));
  inst = await waitForState(ec2, res.Instances![0]!.InstanceId!, 'running', 300_000, 200);
}, 600_000);

afterAll(async () => {
  if (inst) await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] })).catch(() => undefined);
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  await sweepRun(dataDir);
}, 180_000);

describe('pcloud ps and pcloud top on a real server', () => {
  it('ps shows the container running, with its Name tag made safe, type, runtime, status, IP and host', () => {
    const out = pcloud(['ps']);
    expect(out.split('\n')[0]).toMatch(/^ID +NAME +TYPE +RUNTIME +STATE +STATUS +IP +HOST +AGE$/);
    const line = lineOf(out, inst.InstanceId!);
    expect(line).toBeDefined();
    expect(line).toContain(' web?next?31m ');
    expect(line).toMatch(/ t3\.micro +container +running +(initializing|ok) /);
    expect(line).toContain(` ${inst.PrivateIpAddress} `);
    expect(line).toContain(` ${hostname()} `);
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('top --once shows the memory the container\'s cgroup holds, and its CPU', () => {
    const out = pcloud(['top', '--once', '--interval', '1']);
    expect(out).toMatch(/^pcloud top - \d\d:\d\d:\d\d {2}1 instance, /);
    expect(out).not.toContain('\x1b');
    const line = lineOf(out, inst.InstanceId!);
    expect(line).toBeDefined();
    // CPU% (a number over the interval), memory now (nonzero), its limit (t3.micro: 1 GiB) and the share of it.
    const m = /container +running +(\d+\.\d) +(\d+(?:\.\d)?)([BKMG]) +1\.0G +(\d+\.\d)$/.exec(line!);
    expect(m, line).not.toBeNull();
    const bytes = Number(m![2]) * { B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m![3] as 'B' | 'K' | 'M' | 'G'];
    expect(bytes).toBeGreaterThan(1024 * 1024);
  });

  it('the server\'s /metrics has the container\'s CPU seconds and memory bytes', async () => {
    const text = await (await fetch(`http://${metricsAt}/metrics`)).text();
    const value = (name: string) => {
      const m = new RegExp(`^${name}\\{instance_id="${inst.InstanceId}",runtime="container"\\} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    expect(value('pcloud_instance_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value('pcloud_instance_memory_bytes')).toBeGreaterThan(1024 * 1024);
    expect(text).toContain('# TYPE pcloud_instance_cpu_seconds_total counter');
  });

  it('ps --functions lists a created function with its runtime, mode, units and URL', async () => {
    const role = await lambdaRole(endpoint, CREDS);
    const pkg = mkdtempSync(join(dataDir, 'pkg-'));
    writeFileSync(join(pkg, 'app.py'), 'def handler(event, context):\n    return {"ok": True}\n');
    chmodSync(join(pkg, 'app.py'), 0o644);
    execFileSync('zip', ['-q', 'package.zip', 'app.py'], { cwd: pkg });
    const name = `ps-fn-${Date.now().toString(36)}`;
    await lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'python3.12', Handler: 'app.handler', Role: role, Code: { ZipFile: new Uint8Array(readFileSync(join(pkg, 'package.zip'))) },
    }));
    const url = (await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }))).FunctionUrl!;
    expect((await lambda.send(new InvokeCommand({ FunctionName: name, Payload: new TextEncoder().encode('{}') }))).StatusCode).toBe(200);
    const out = pcloud(['ps', '--functions']);
    expect(out.split('\n')[0]).toMatch(/^ACCOUNT +NAME +RUNTIME +MODE +UNITS +URL$/);
    const line = out.split('\n').find((l) => l.includes(` ${name} `));
    expect(line).toMatch(new RegExp(`^000000000000 +${name} +python3\\.12 +per-request +\\d+ active +${url.replace(/[.]/g, '\\.')}$`));
  });

  it('top refreshes until SIGINT, then ends cleanly; a bad interval is refused', async () => {
    const top = spawn(process.execPath, [CLI, 'top', '--interval', '0.5', '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    top.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const exited = new Promise<number | null>((r) => top.once('exit', (code) => r(code)));
    await until(() => (out.match(/^pcloud top - /gm) ?? []).length >= 2, 60_000, 50);
    top.kill('SIGINT');
    expect(await exited).toBe(0);
    // Not a terminal: frames one after another, the screen never cleared.
    expect(out).not.toContain('\x1b');
    const frames = out.split(/^(?=pcloud top - )/m).filter(Boolean);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const frame of frames) expect(frame).toContain(`\n${inst.InstanceId} `);
    const bad = spawnSync(process.execPath, [CLI, 'top', '--interval', '0', '--data', dataDir], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('pcloud: --interval: seconds between 0.2 and 3600, not "0"');
  });

  it('ps --all shows a terminated instance, ps alone no more', async () => {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await waitForState(ec2, inst.InstanceId!, 'terminated', 120_000);
    expect(lineOf(pcloud(['ps']), inst.InstanceId!)).toBeUndefined();
    expect(lineOf(pcloud(['ps', '--all']), inst.InstanceId!)).toMatch(/ terminated +- /);
    const text = await (await fetch(`http://${metricsAt}/metrics`)).text();
    expect(text).not.toContain(`instance_id="${inst.InstanceId}"`);
  });
});
