/**
 * A cloud of several hosts (issue 17), for real: a throwaway PostgreSQL (Debian's) holds the state; the control plane
 * is a `pcloud serve --database …` on this machine, on an underlay bridge (HOST_UNDERLAY); two booted systemd nodes on
 * that bridge each join it (`pcloud host token` here, `pcloud host join` there) and serve as its hosts under the
 * project's systemd unit, each in a zone of its own. Through the control plane's API only: instances placed on
 * different hosts in one VPC exchange HTTP by private IP and by DNS name across the VXLAN overlay; an instance of
 * another VPC is not reached; an agent killed with SIGKILL in the middle of a launch comes back (its unit restarts it),
 * and the launch ends running with nothing leaked or lost; a host that stops being heard from has its instances
 * reported impaired, still listed; one that is gone is removed (`pcloud host remove`), its instances listed until
 * terminated, and its server no longer serves under it; a function made through the control plane answers through each host's own nginx
 * and API, run there (its code taken from the database), its reserved concurrency held across them (a URL request through one
 * throttles an Invoke through the other), its new code and its deletion followed by every host; and a
 * second control-plane process serves when the first is killed.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSubnetCommand, CreateTagsCommand, CreateVpcCommand, DescribeInstanceStatusCommand, DescribeInstancesCommand, EC2Client,
  RunInstancesCommand, TerminateInstancesCommand, type Instance,
} from '@aws-sdk/client-ec2';
import {
  CreateFunctionCommand, CreateFunctionUrlConfigCommand, DeleteFunctionCommand, LambdaClient, PutFunctionConcurrencyCommand, UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CREDS, freePort, spawnServe } from '../support/real.js';
import { postgresMissing, startPostgres, type Postgres } from '../support/postgres.js';
import { sweepRun } from '../support/runs.js';
import { until } from '../support/api.js';
import { zipOf } from '../support/packages.js';
import { lambdaRole } from '../support/roles.js';
import { NODE_DIR } from './node.js';
import { bootPair, HOST_UNDERLAY, UNDERLAY, type HostNode, type Pair, type Side } from './vxlan-nodes.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const ZONE: Record<Side, string> = { a: 'us-east-1b', b: 'us-east-1c' };
/** Each node's data dir (a dir of this machine's, bound in: what it holds outlives the node's volatile root). */
const DATA = '/var/lib/pcloud-host';
const BASE = process.env.PCLOUD_TEST_BASE ?? '/var/tmp/pcloud-tests';
const tar = process.env.PCLOUD_TEST_IMAGE_TAR;
const root = process.getuid?.() === 0;
const why = !root ? 'needs root' : !existsSync('/usr/bin/systemd-nspawn') ? 'needs systemd-nspawn' : postgresMissing() ? postgresMissing()
  : !tar ? 'needs the default image as a tarball (PCLOUD_TEST_IMAGE_TAR; the global setup sets it unless PCLOUD_TEST_DATA is given)' : '';
if (why) console.log(`a cloud of several hosts is skipped: it ${why}`);

/** Heartbeats every 2 s, lost after 6 s: a host taken away shows within seconds. */
const HEARTBEAT = { PCLOUD_HOST_HEARTBEAT_SEC: '2', PCLOUD_HOST_TIMEOUT_SEC: '6' };

let pg: Postgres;
let pair: Pair;
let controlDir: string;
let control: { child: ChildProcess; port: number };
let ec2: EC2Client;
const nodeData = (side: Side) => join(NODE_DIR, `cloud-${side}`);

/** A `pcloud` command of the control plane's (this machine), on its database: its stdout. */
function pcloudHere(args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args, '--data', controlDir], { env: { ...process.env, PCLOUD_DATABASE_URL: pg.url, PCLOUD_AZS: ZONES.join(','), ...HEARTBEAT } }).toString();
}

/** A shell line in a node; its output, or the failure with it. */
async function inNode(node: HostNode, script: string): Promise<string> {
  const res = await node.sh(script);
  if (res.code !== 0) throw new Error(`in node ${node.node.name}: ${script}\n${res.out}`);
  return res.out.trim();
}

/** Join the node to the control plane and serve under the project's unit (systemd/pcloud.service, this build). */
async function joinHost(side: Side): Promise<void> {
  const node = pair[side];
  const token = pcloudHere(['host', 'token', '--zone', ZONE[side]]).trim();
  // A host is known by its hostname: the nodes are both pcloud-node by their root's /etc/hostname.
  await inNode(node, `hostname pcloud-host-${side}`);
  await inNode(node, `/usr/local/bin/node /project/dist/src/cli/main.js host join --control http://${HOST_UNDERLAY}:${control.port} --token ${token} `
    + `--data ${DATA} --underlay-address ${UNDERLAY[side]} --underlay-device u0 --no-serve`);
  const env = { PCLOUD_DATA: DATA, PCLOUD_LISTEN: '127.0.0.1:8773', PCLOUD_STRICT_SHAPES: '1', PATH, ...HEARTBEAT };
  await inNode(node, [
    'cp /project/systemd/pcloud.service /etc/systemd/system/pcloud.service',
    'mkdir -p /etc/systemd/system/pcloud.service.d',
    `printf '[Service]\\nExecStart=\\nExecStart=/usr/local/bin/node /project/dist/src/cli/main.js serve --no-image\\n' > /etc/systemd/system/pcloud.service.d/checkout.conf`,
    `printf '%s\\n' ${Object.entries(env).map(([k, v]) => `'${k}=${v}'`).join(' ')} > /etc/default/pcloud`,
    'systemctl daemon-reload', 'systemctl start pcloud.service',
  ].join(' && '));
}

/** A word for a shell line, as one argument. */
const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** The hosts' server logs (their last lines), for a failure's message. */
async function journals(): Promise<string> {
  const out: string[] = [];
  for (const side of ['a', 'b'] as const) out.push(`node ${side}:\n${(await pair[side].sh('journalctl -u pcloud --no-pager -n 40 -o cat')).out}`);
  return out.join('\n');
}

interface HostListed { id: string; name: string; availabilityZone: string; address: string | null; state: string; lost: boolean; instances: number }
const hosts = (): HostListed[] => JSON.parse(pcloudHere(['host', 'list', '--json'])) as HostListed[];

const describeAll = async (ids: string[]): Promise<Instance[]> =>
  (await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))).Reservations!.flatMap((r) => r.Instances ?? []);
const waitRunning = (ids: string[], timeoutMs = 240_000) =>
  until(async () => (await describeAll(ids)).every((i) => i.State?.Name === 'running'), timeoutMs, 500);

describe.skipIf(why)('a cloud of several hosts', () => {
  beforeAll(async () => {
    pg = await startPostgres();
    controlDir = join(BASE, 'cloud-control');
    if (existsSync(controlDir)) await sweepRun(controlDir);
    mkdirSync(controlDir, { recursive: true });
    // The default image, on the control plane: the hosts fetch it from there by its content hash.
    pcloudHere(['image', 'import', tar!, '--name', 'debian-12']);
    pair = await bootPair({ hostLeg: true, binds: (side) => [[pg.dir, pg.dir], [nodeData(side), DATA]], fresh: (side) => [nodeData(side)] });
    const port = await freePort();
    const started = await spawnServe(controlDir, port, ['--listen', `${HOST_UNDERLAY}:${port}`, '--database', pg.url, '--no-image', '--metrics-listen', 'off', '--access-log', 'off'], {
      PCLOUD_AZS: ZONES.join(','), PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${await freePort()}`, PCLOUD_STRICT_SHAPES: '1', ...HEARTBEAT,
    }).catch((err: Error) => {
      throw new Error(`${err.message}:\n${readFileSync(join(controlDir, 'serve.log'), 'utf8').slice(-3000)}`);
    });
    control = { child: started.child, port };
    ec2 = new EC2Client({ endpoint: `http://${HOST_UNDERLAY}:${port}`, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
    await Promise.all([joinHost('a'), joinHost('b')]);
    await until(() => hosts().filter((h) => h.address !== null && !h.lost).length === 2, 120_000, 500).catch(async (err: Error) => {
      throw new Error(`${err.message}: hosts ${JSON.stringify(hosts())}\n${await journals()}`);
    });
  }, 600_000);

  afterAll(async () => {
    control?.child.kill('SIGKILL');
    await pair?.stop();
    if (controlDir) await sweepRun(controlDir).catch(() => undefined);
    await pg?.stop();
  }, 180_000);

  it('the joined hosts are listed with their zones and underlay addresses', () => {
    const joined = hosts().filter((h) => h.address !== null).map((h) => [h.availabilityZone, h.address]).sort();
    expect(joined).toEqual([[ZONE.a, UNDERLAY.a], [ZONE.b, UNDERLAY.b]]);
  });

  let web: { a: Instance; b: Instance };
  it('instances on two hosts in one VPC reach each other by private IP and by DNS name; another VPC is not reached', async () => {
    const run = async (zone: string, name: string) => {
      const r = await ec2.send(new RunInstancesCommand({ ImageId: imageId(), InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, Placement: { AvailabilityZone: zone } }));
      const id = r.Instances![0]!.InstanceId!;
      await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'Name', Value: name }] }));
      return id;
    };
    const [ida, idb] = await Promise.all([run(ZONE.a, 'web-a'), run(ZONE.b, 'web-b')]);
    await waitRunning([ida, idb]);
    const described = await describeAll([ida, idb]);
    const [a, b] = [ida, idb].map((id) => described.find((i) => i.InstanceId === id));
    web = { a: a!, b: b! };
    expect(a!.VpcId).toBe(b!.VpcId);
    await pair.a.serve(ida, a!.PrivateIpAddress!, 'web-a');
    await pair.b.serve(idb, b!.PrivateIpAddress!, 'web-b');
    // By private IP, each way, over the overlay.
    await until(async () => (await pair.a.get(ida, `http://${b!.PrivateIpAddress}:8080/who`)) === 'web-b', 30_000, 500);
    expect(await pair.b.get(idb, `http://${a!.PrivateIpAddress}:8080/who`)).toBe('web-a');
    // By name, through the VPC's DNS on each host (the instance's own resolver, as its guest has it).
    for (const [side, id, other] of [['a', ida, b!], ['b', idb, a!]] as const) {
      await inNode(pair[side], `mkdir -p /etc/netns/pcloud-${id} && printf 'nameserver 172.31.0.2\\nsearch ec2.internal\\n' > /etc/netns/pcloud-${id}/resolv.conf`);
      const label = other.PrivateDnsName!.split('.')[0]!;
      await until(async () => (await pair[side].get(id, `http://${label}.ec2.internal:8080/who`)) === (side === 'a' ? 'web-b' : 'web-a'), 30_000, 500);
      await until(async () => (await pair[side].get(id, `http://web-${side === 'a' ? 'b' : 'a'}:8080/who`)) === (side === 'a' ? 'web-b' : 'web-a'), 30_000, 500);
    }

    // Another VPC, on host b: not reached from host a's instance (nor the other way).
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16' }))).Vpc!;
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.77.1.0/24', AvailabilityZone: ZONE.b }))).Subnet!;
    const other = (await ec2.send(new RunInstancesCommand({ ImageId: imageId(), InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, SubnetId: subnet.SubnetId }))).Instances![0]!;
    await waitRunning([other.InstanceId!]);
    await pair.b.serve(other.InstanceId!, other.PrivateIpAddress!, 'other');
    expect(await pair.b.get(other.InstanceId!, `http://${other.PrivateIpAddress}:8080/who`)).toBe('other');
    expect(await pair.a.get(ida, `http://${other.PrivateIpAddress}:8080/who`)).toBe('');
    expect(await pair.b.get(other.InstanceId!, `http://${a!.PrivateIpAddress}:8080/who`)).toBe('');
  }, 400_000);

  it('a function made through the control plane is served by every host: its URL through host b\'s nginx, Invoke through host a\'s API; its reserved concurrency held by both together; new code and its deletion followed', async () => {
    const endpoint = `http://${HOST_UNDERLAY}:${control.port}`;
    const lambda = new LambdaClient({ endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
    const role = await lambdaRole(endpoint, CREDS, 'cloud-fn');
    // It sleeps as long as asked (?sleep=S on its URL, {"sleep": S} to Invoke).
    const code = (says: string) => zipOf({ 'app.py': 'import socket, time\ndef handler(event, context):\n'
      + '    time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", event.get("sleep", 0))))\n'
      + `    return {"says": "${says}", "host": socket.gethostname()}\n` });
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'across', Runtime: 'python3.12', Handler: 'app.handler', Role: role, Timeout: 30, Code: { ZipFile: code('one') } }));
    const url = new URL((await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'across', AuthType: 'NONE' }))).FunctionUrl!);
    // Host b's nginx (its own, in the node), told by the database: the code taken from it, the route there.
    const throughB = async (): Promise<unknown> => {
      const res = await pair.b.sh(`curl -s -m 60 http://127.0.0.1:8774${url.pathname}`);
      try {
        return JSON.parse(res.out) as unknown;
      } catch {
        return res.out;
      }
    };
    const says = async (): Promise<unknown> => ((await throughB()) as { says?: string } | undefined)?.says;
    await until(async () => (await says()) === 'one', 120_000, 1000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await throughB())}\n${await journals()}`);
    });
    expect(await throughB()).toEqual({ says: 'one', host: 'pcloud-host-b' });
    // Invoke signed as a client signs it, through host a's API (in the node): run there.
    const invoke = `const { LambdaClient, InvokeCommand } = require('/project/node_modules/@aws-sdk/client-lambda');
      new LambdaClient({ endpoint: 'http://127.0.0.1:8773', region: 'us-east-1', credentials: ${JSON.stringify(CREDS)}, maxAttempts: 1 })
        .send(new InvokeCommand({ FunctionName: 'across', Payload: '{}' }))
        .then((r) => console.log(Buffer.from(r.Payload).toString()), (e) => console.log(JSON.stringify(e.name + ' ' + e.Reason)));`;
    const invokeOnA = async () => JSON.parse(await inNode(pair.a, `/usr/local/bin/node -e ${shellQuote(invoke)} 2>/dev/null`)) as unknown;
    expect(await invokeOnA()).toEqual({ says: 'one', host: 'pcloud-host-a' });

    // A reserved concurrency of 1 holds across the hosts, for Invoke and URLs together: a URL request running through
    // host b's nginx (which hands it to b's API to count) throttles an Invoke through host a's API. (Had an Invoke held
    // the slot just as the URL request came, that one was throttled instead: it is sent again.)
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'across', ReservedConcurrentExecutions: 1 }));
    // Host b follows the change when told (its units started again, its routes synced): until then its nginx may still
    // answer from the route before (a 502 page while the unit restarts).
    await until(async () => (await says()) === 'one', 60_000, 500);
    let held: string | undefined;
    for (let attempt = 0; attempt < 5 && held === undefined; attempt++) {
      let answered = false;
      let throttled = false;
      const slow = pair.b.sh(`curl -s -m 60 'http://127.0.0.1:8774${url.pathname}?sleep=8'`).then((r) => { answered = true; return r.out; });
      await until(async () => {
        if (answered) return true;
        throttled = (await invokeOnA()) === 'TooManyRequestsException ReservedFunctionConcurrentInvocationLimitExceeded';
        return throttled;
      }, 30_000, 200);
      const out = await slow;
      if (throttled && !out.includes('Rate Exceeded')) held = out;
    }
    expect(JSON.parse(held ?? '{}')).toEqual({ says: 'one', host: 'pcloud-host-b' });
    // Host a runs it again once the URL request has ended: its units, started again with the reserved concurrency as
    // it followed the change (nginx's routes and an Invoke asking at once), listen.
    let last: unknown;
    await until(async () => JSON.stringify(last = await invokeOnA()) === JSON.stringify({ says: 'one', host: 'pcloud-host-a' }), 60_000, 500)
      .catch(async (err: Error) => {
        const units = await pair.a.sh(`ls -la ${DATA}/run/lambda/; systemctl status --no-pager 'pcloud-fn-*'`);
        throw new Error(`${err.message}: host a's Invoke answered ${JSON.stringify(last)}\n${units.out}\n${await journals()}`);
      });

    // New code through the control plane: host b serves it.
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'across', ZipFile: code('two') }));
    await until(async () => (await says()) === 'two', 120_000, 1000);
    // Deleted: its URL is gone from host b, and its code from b's disk.
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'across' }));
    await until(async () => (await says()) === undefined, 60_000, 1000);
    await until(async () => (await pair.b.sh(`ls ${DATA}/functions/*/across`)).code !== 0, 60_000, 1000);
  }, 400_000);

  it('an agent killed with SIGKILL mid-launch comes back under its unit: the launch ends running, nothing leaked or lost', async () => {
    const r = await ec2.send(new RunInstancesCommand({ ImageId: imageId(), InstanceType: 't3.nano', MinCount: 3, MaxCount: 3, Placement: { AvailabilityZone: ZONE.a } }));
    const ids = r.Instances!.map((i) => i.InstanceId!);
    await inNode(pair.a, 'systemctl kill -s KILL pcloud.service');
    await waitRunning(ids);
    // Every instance of host a has one unit and one disk there, and nothing else has.
    const mine = (await describeAll([...ids, web.a.InstanceId!])).map((i) => i.InstanceId!).sort();
    const units = (await inNode(pair.a, "systemctl list-units --all --plain --no-legend 'pcloud-instance@*' | awk '{print $1}'"))
      .split('\n').filter(Boolean).map((u) => u.replace(/^pcloud-instance@|\.service$/g, '')).sort();
    expect(units).toEqual(mine);
    const disks = (await inNode(pair.a, `ls ${DATA}/pool/instances`)).split('\n').filter(Boolean).sort();
    expect(disks).toEqual(mine);
    expect(await inNode(pair.a, 'systemctl show -p NRestarts --value pcloud.service')).not.toBe('0');
  }, 400_000);

  it('a host that is no longer heard from: its instances are reported impaired, still listed, not started elsewhere', async () => {
    await inNode(pair.b, 'systemctl stop pcloud.service');
    const id = web.b.InstanceId!;
    await until(async () => {
      const st = (await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses![0];
      return st?.SystemStatus?.Status === 'impaired';
    }, 60_000, 500);
    const [inst] = await describeAll([id]);
    expect(inst!.State!.Name).toBe('running');
    expect(hosts().find((h) => h.address === UNDERLAY.b)).toMatchObject({ lost: true, instances: 2 });
    // It runs on, where it ran: still serving.
    expect(await pair.b.get(id, `http://${web.b.PrivateIpAddress}:8080/who`)).toBe('web-b');
    await inNode(pair.b, 'systemctl start pcloud.service');
    await until(async () => (await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses![0]?.SystemStatus?.Status === 'ok', 60_000, 500);
  }, 200_000);

  it('a host that is gone is removed (`pcloud host remove`, refused while it serves): its instances stay listed and end at once when terminated; its server no longer serves under it; joined again, the machine takes down what it ran of them', async () => {
    const id = web.b.InstanceId!;
    expect(() => pcloudHere(['host', 'remove', 'pcloud-host-b'])).toThrow(/host pcloud-host-b is serving/);
    await inNode(pair.b, 'systemctl stop pcloud.service');
    await until(() => hosts().find((h) => h.name === 'pcloud-host-b')?.lost === true, 60_000, 500);
    pcloudHere(['host', 'remove', 'pcloud-host-b']);
    expect(hosts().find((h) => h.name === 'pcloud-host-b')).toMatchObject({ state: 'removed', instances: 2 });
    const [listed] = await describeAll([id]);
    expect(listed!.State!.Name).toBe('running');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await describeAll([id]))[0]?.State?.Name === 'terminated', 60_000, 500);
    // Its server, started again, refuses to serve under the removed host, saying how to join again.
    await pair.b.sh('systemctl start pcloud.service');
    await until(async () => (await pair.b.sh('journalctl -u pcloud --no-pager -o cat')).out.includes('was removed from the cloud'), 60_000, 1000);
    expect(await inNode(pair.b, 'systemctl show -p ActiveState --value pcloud.service')).not.toBe('active');
    expect(hosts().find((h) => h.name === 'pcloud-host-b')?.state).toBe('removed');
    // The machine joins again under its name: a new host, and what it still ran of the removed one's instances is
    // taken down at its start (their units gone).
    expect(await inNode(pair.b, "systemctl list-units --plain --no-legend 'pcloud-instance@*' | wc -l")).not.toBe('0');
    await joinHost('b');
    await until(() => hosts().some((h) => h.name === 'pcloud-host-b' && h.state === 'available' && !h.lost), 120_000, 1000);
    expect(hosts().filter((h) => h.state === 'removed').map((h) => h.name)).toEqual([expect.stringMatching(/^pcloud-host-b \(removed: h-[0-9a-f]+\)$/)]);
    await until(async () => (await inNode(pair.b, "systemctl list-units --plain --no-legend 'pcloud-instance@*' | wc -l")) === '0', 120_000, 1000);
  }, 400_000);

  it('a second control-plane process serves when the first is killed', async () => {
    const dir = join(BASE, 'cloud-control-2');
    if (existsSync(dir)) await sweepRun(dir);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const second = await spawnServe(dir, port, ['--database', pg.url, '--no-image', '--metrics-listen', 'off', '--access-log', 'off'], {
      PCLOUD_AZS: ZONES.join(','), PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${await freePort()}`, ...HEARTBEAT,
    });
    try {
      control.child.kill('SIGKILL');
      const other = new EC2Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
      const listed = (await other.send(new DescribeInstancesCommand({ InstanceIds: [web.a.InstanceId!] }))).Reservations!.flatMap((r) => r.Instances ?? []);
      expect(listed.map((i) => i.State!.Name)).toEqual(['running']);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
      await sweepRun(dir).catch(() => undefined);
    }
  }, 200_000);
});

/** The default image's id, as the control plane registered it. */
let ami: string | undefined;
function imageId(): string {
  ami ??= pcloudHere(['image', 'list']).split('\n').find((l) => l.split('\t')[1] === 'debian-12')!.split('\t')[0]!;
  return ami;
}
