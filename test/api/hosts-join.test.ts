/**
 * Two hosts of one cloud on one throwaway PostgreSQL (issue 17), each a server with a fake host of its own machine
 * (another hostname, another zone): an instance one server places on the other host is launched, stopped, started,
 * rebooted and terminated by that host, woken by the database (LISTEN/NOTIFY), never by the server that took the call. Joining:
 * a token from `pcloud host token` redeemed once at /pcloud/hosts/join for the database's URL, the zones and a host key.
 */
import {
  AttachVolumeCommand, CreateSnapshotCommand, CreateVolumeCommand, DeleteSnapshotCommand, DeleteVolumeCommand, DescribeSnapshotsCommand, DetachVolumeCommand,
  RebootInstancesCommand, RegisterImageCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateFunctionCommand, CreateFunctionUrlConfigCommand, DeleteFunctionCommand, InvokeCommand, LambdaClient, PublishVersionCommand, PutFunctionConcurrencyCommand, UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join as joinPath } from 'node:path';
import { eq } from 'drizzle-orm';
import { FunctionPackages } from '../../src/cloud/functions/packages.js';
import { functionKey, type FunctionView } from '../../src/cloud/functions/types.js';
import { write } from '../../src/db/store.js';
import { functionPackages, hosts, snapshots, volumes } from '../../src/db/tables.js';
import type { FunctionRoute, NginxDriver } from '../../src/host/nginx.js';
import { FakeFunctionHost } from '../support/fake-functions.js';
import { lambdaRole } from '../support/roles.js';
import { hostOfKey, issueToken } from '../../src/cloud/hosts/tokens.js';
import { startApi, until, type TestApi } from '../support/api.js';
import { errorCode, rejected } from '../support/thrown.js';
import { postgresMissing } from '../support/postgres.js';
import { serversOnPostgres } from '../support/pg-servers.js';

const missing = postgresMissing();
const ACCOUNT = '111111111111';
/** A "zip": the fake hosts keep it as it is; the domain checks only its local file header's magic. */
const zipOf = (text: string) => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from(text)]);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const lambdaOf = (api: TestApi) => new LambdaClient({ endpoint: api.endpoint, region: 'us-east-1', credentials: api.key, maxAttempts: 1 });
const ZONES = ['us-east-1a', 'us-east-1b'];
const servers = serversOnPostgres(missing, {
  a: { hostname: 'host-a', config: { availabilityZones: ZONES } },
  b: (a) => ({ hostname: 'host-b', underlayAddress: '10.99.0.2', config: { availabilityZones: ZONES, hosts: { ...a.cloud.config.hosts, zone: 'us-east-1b' } } }),
});
let a: TestApi;
let b: TestApi;
beforeAll(() => { ({ a, b } = servers); });
/** The packages the shared database keeps, by sha256. */
const packages = async () => (await a.cloud.db.select({ sha256: functionPackages.sha256 }).from(functionPackages)).map((r) => r.sha256).sort();

const join = (api: TestApi, body: unknown) => fetch(`${api.endpoint}/pcloud/hosts/join`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });

describe.skipIf(missing)(`two hosts on one PostgreSQL database${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('an instance placed on the other host is launched, stopped, started, rebooted and terminated there, woken by the database', async () => {
    const hostB = (await b.cloud.hosts.local())!;
    expect(hostB.availabilityZone).toBe('us-east-1b');
    const r = await a.ec2.send(new RunInstancesCommand({ ImageId: a.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, Placement: { AvailabilityZone: 'us-east-1b' } }));
    const id = r.Instances![0]!.InstanceId!;
    const row = async () => (await a.cloud.instances.row(id))!;
    expect((await row()).hostId).toBe(hostB.id);
    await until(async () => (await row()).state === 'running');
    const unit = `pcloud-instance@${id}`;
    expect([a.units.started.some((s) => s.name === unit), b.units.started.filter((s) => s.name === unit).length]).toEqual([false, 1]);

    await a.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await row()).state === 'stopped');
    expect(b.units.units.get(unit)?.state).toBe('inactive');
    await a.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await row()).state === 'running');
    expect([a.units.started.some((s) => s.name === unit), b.units.started.filter((s) => s.name === unit).length]).toEqual([false, 2]);

    // Rebooted through a: its host restarts its unit (a container's reboot), a touches nothing.
    const restarts: string[] = [];
    for (const api of [a, b]) {
      const restart = api.units.restart.bind(api.units);
      api.units.restart = async (name) => { restarts.push(`${api === a ? 'a' : 'b'} ${name}`); await restart(name); };
    }
    await a.ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    await until(() => restarts.length > 0);
    expect(restarts).toEqual([`b ${unit}`]);

    await a.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await row()).state === 'terminated');
    expect([b.units.units.has(unit), await b.pool.listDisks()]).toEqual([false, []]);
  });

  it('a volume is made only by a host of its zone; attached through the instance\'s host\'s server, and refusals say why', async () => {
    const r = await a.ec2.send(new RunInstancesCommand({ ImageId: a.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, Placement: { AvailabilityZone: 'us-east-1b' } }));
    const id = r.Instances![0]!.InstanceId!;
    await until(async () => (await a.cloud.instances.row(id))!.state === 'running');
    // a's host is not in us-east-1b: a volume it made there could never be attached. Refused, nothing made.
    const before = await a.pool.listVolumes();
    expect(await errorCode(a.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 1 })))).toBe('Unsupported');
    expect(await a.pool.listVolumes()).toEqual(before);
    const vol = (await b.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 1 }))).VolumeId!;
    expect((await a.cloud.volumes.get(ACCOUNT, vol)).hostId).toBe((await b.cloud.hosts.local())!.id);
    // Through a (not the instance's host): refused, nothing claimed; through b, attached.
    expect(await errorCode(a.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: id, Device: '/dev/sdf' })))).toBe('IncorrectState');
    expect((await a.cloud.volumes.get(ACCOUNT, vol)).instanceId).toBeNull();
    await b.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: id, Device: '/dev/sdf' }));
    expect((await a.cloud.volumes.get(ACCOUNT, vol)).instanceId).toBe(id);
    await a.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('a volume moves to the host of the instance it is attached to (exported by its host to that host\'s underlay address only, copied whole); deleted through another host, its file goes from its own; a move its host does not answer is given up, leaving nothing', async () => {
    // A third host, in b's zone, taking no instances: the volume is made on it, the instance placed on b.
    const c = await startApi({
      database: servers.pg.url, hostname: 'host-c', underlayAddress: '10.99.0.3',
      config: { availabilityZones: ZONES, hosts: { ...a.cloud.config.hosts, zone: 'us-east-1b' } },
    });
    const [hostB, hostC] = [(await b.cloud.hosts.local())!, (await c.cloud.hosts.local())!];
    try {
      await a.cloud.db.update(hosts).set({ state: 'draining' }).where(eq(hosts.id, hostC.id));
      const r = await b.ec2.send(new RunInstancesCommand({ ImageId: a.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, Placement: { AvailabilityZone: 'us-east-1b' } }));
      const id = r.Instances![0]!.InstanceId!;
      await until(async () => (await b.cloud.instances.row(id))!.state === 'running');
      expect((await b.cloud.instances.row(id))!.hostId).toBe(hostB.id);
      const vol = (await c.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 1 }))).VolumeId!;
      await writeFile(c.pool.volumePath(vol), 'the data written on host c');

      // Taken at once (attaching, as EC2 answers), moved in the background, then attached and mounted on b.
      expect((await b.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: id, Device: '/dev/sdf' }))).State).toBe('attaching');
      await until(async () => (await b.cloud.volumes.get(ACCOUNT, vol)).attachState === 'attached');
      expect(await b.cloud.volumes.get(ACCOUNT, vol)).toMatchObject({ hostId: hostB.id, instanceId: id, state: 'in-use', moveTo: null, moveSource: null });
      expect(readFileSync(b.pool.volumePath(vol), 'utf8')).toBe('the data written on host c');
      await until(async () => b.nfs.mounts.some((m) => m.volumeId === vol && m.target === '/mnt/sdf'));
      // c exported it to b's underlay address only, on its own; told the move ended, it closed it and removed its file.
      expect(c.iscsi.portals).toEqual(['10.99.0.3']);
      expect(c.iscsi.given).toEqual([{ id: vol, initiator: '10.99.0.2', readOnly: true }]);
      await until(async () => !(await c.pool.listVolumes()).includes(vol) && !c.iscsi.exported.has(vol));

      // Detached and deleted through c: b, told, removes the file (c has none to remove).
      await b.ec2.send(new DetachVolumeCommand({ VolumeId: vol }));
      await c.ec2.send(new DeleteVolumeCommand({ VolumeId: vol }));
      await until(async () => !(await b.pool.listVolumes()).includes(vol));

      // A volume whose host stops answering before it exports it: the move is given up (within a second of the host
      // being lost); the volume is available where it was, and nothing of it is left on b.
      const ghost = 'h-0000000000000000';
      await a.cloud.db.insert(hosts).values({
        id: ghost, name: 'host-ghost', availabilityZone: 'us-east-1b', address: '10.99.0.9', runtimes: ['container'], accel: 'tcg', vcpus: 2,
        memoryMiB: 2048, state: 'available', bootId: null, heartbeatAt: Date.now(), createdAt: Date.now(),
      });
      const ghostly = async () => {
        const v = (await c.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 1 }))).VolumeId!;
        await a.cloud.db.update(volumes).set({ hostId: ghost }).where(eq(volumes.id, v));
        return v;
      };
      const stray = await ghostly();
      expect((await b.ec2.send(new AttachVolumeCommand({ VolumeId: stray, InstanceId: id, Device: '/dev/sdg' }))).State).toBe('attaching');
      expect((await b.cloud.volumes.get(ACCOUNT, stray)).moveTo).toBe(hostB.id);
      // Detached while it moves: the move is given up with the attachment, at once.
      const detached = await b.ec2.send(new DetachVolumeCommand({ VolumeId: stray }));
      expect(detached.State).toBe('detaching');
      expect(await b.cloud.volumes.get(ACCOUNT, stray)).toMatchObject({ hostId: ghost, instanceId: null, attachState: null, moveTo: null, state: 'available' });
      // Attached again; its host then lost: given up by the taker.
      await b.ec2.send(new AttachVolumeCommand({ VolumeId: stray, InstanceId: id, Device: '/dev/sdg' }));
      await a.cloud.db.update(hosts).set({ heartbeatAt: 0 }).where(eq(hosts.id, ghost));
      await until(async () => (await b.cloud.volumes.get(ACCOUNT, stray)).instanceId === null, 10_000);
      expect(await b.cloud.volumes.get(ACCOUNT, stray)).toMatchObject({ hostId: ghost, attachState: null, moveTo: null, moveSource: null, state: 'available' });
      expect(await b.pool.listVolumes()).not.toContain(stray);
      expect(b.nfs.mounts.some((m) => m.volumeId === stray)).toBe(false);
      // Its host not heard from at all: refused at once, nothing claimed.
      expect(await errorCode(b.ec2.send(new AttachVolumeCommand({ VolumeId: stray, InstanceId: id, Device: '/dev/sdg' })))).toBe('IncorrectState');
      expect((await b.cloud.volumes.get(ACCOUNT, stray)).moveTo).toBeNull();

      // A volume's file is removed only for a move to a host that is heard: a row naming a host not heard from (this
      // machine under its old hostname, say) keeps the file where it is.
      const kept = (await b.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 1 }))).VolumeId!;
      await a.cloud.db.update(volumes).set({ hostId: ghost }).where(eq(volumes.id, kept));
      await b.cloud.volumes.moves!.told(kept);
      await b.cloud.volumes.moves!.sweep(false);
      expect(await b.pool.listVolumes()).toContain(kept);
      // A volume recorded before volumes named their host, its file here: attached as this host's.
      await a.cloud.db.update(volumes).set({ hostId: null }).where(eq(volumes.id, kept));
      await b.ec2.send(new AttachVolumeCommand({ VolumeId: kept, InstanceId: id, Device: '/dev/sdh' }));
      expect((await b.cloud.volumes.get(ACCOUNT, kept)).instanceId).toBe(id);
      await a.cloud.db.delete(hosts).where(eq(hosts.id, ghost));
      await b.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    } finally {
      await c.close();
      await a.cloud.db.update(hosts).set({ state: 'removed' }).where(eq(hosts.id, hostC.id));
    }
  });

  it('a copy under way stops when its move is given up, by a detach through any server; an account has a few volumes moving at once (ResourceLimitExceeded past them) and copies one at a time into a host; an export a missed wake-up left closes; the instance\'s end stops a copy too', async () => {
    // A fourth host, in b's zone, taking no instances: the volumes are made on it, the instances placed on b.
    const d = await startApi({
      database: servers.pg.url, hostname: 'host-d', underlayAddress: '10.99.0.4',
      config: { availabilityZones: ZONES, hosts: { ...a.cloud.config.hosts, zone: 'us-east-1b' } },
    });
    const hostD = (await d.cloud.hosts.local())!;
    let release!: () => void;
    b.iscsi.hold = new Promise((resolve) => { release = resolve; });
    const copiesOf = (id: string) => b.iscsi.copies.filter((c) => c.id === id);
    const volume = async (client: typeof d.ec2) => (await client.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 1 }))).VolumeId!;
    const launch = async (client: typeof b.ec2) => (await client.send(new RunInstancesCommand({ ImageId: a.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, Placement: { AvailabilityZone: 'us-east-1b' } }))).Instances![0]!.InstanceId!;
    try {
      await a.cloud.db.update(hosts).set({ state: 'draining' }).where(eq(hosts.id, hostD.id));
      const [mine, theirs] = await Promise.all([launch(b.ec2), launch(b.ec2Other)]);
      await until(async () => (await b.cloud.instances.row(mine))!.state === 'running' && (await b.cloud.instances.row(theirs))!.state === 'running');
      const [v1, v2, v3, other] = await Promise.all([volume(d.ec2), volume(d.ec2), volume(d.ec2), volume(d.ec2Other)]);

      // Detached through a (not the server copying it): b, told, stops its copy; the volume is available on d, nothing
      // of it left on b, d's export closed.
      await b.ec2.send(new AttachVolumeCommand({ VolumeId: v1, InstanceId: mine, Device: '/dev/sdf' }));
      await until(() => copiesOf(v1).length === 1);
      await a.ec2.send(new DetachVolumeCommand({ VolumeId: v1 }));
      await until(() => copiesOf(v1)[0]!.ended === 'aborted');
      expect(await a.cloud.volumes.get(ACCOUNT, v1)).toMatchObject({ hostId: hostD.id, instanceId: null, moveTo: null, state: 'available' });
      await until(() => !d.iscsi.exported.has(v1));
      expect(await b.pool.listVolumes()).not.toContain(v1);
      // Detached through b itself: stopped at once too.
      await b.ec2.send(new AttachVolumeCommand({ VolumeId: v1, InstanceId: mine, Device: '/dev/sdf' }));
      await until(() => copiesOf(v1).length === 2);
      await b.ec2.send(new DetachVolumeCommand({ VolumeId: v1 }));
      await until(() => copiesOf(v1)[1]!.ended === 'aborted');

      // Two of the account's volumes moving to b: exported by d both, copied one at a time. Another account's volume
      // moving to b meanwhile is copied at once, beside it.
      b.cloud.config.limits = { ...b.cloud.config.limits, volumeMoves: 2 };
      await b.ec2.send(new AttachVolumeCommand({ VolumeId: v1, InstanceId: mine, Device: '/dev/sdf' }));
      await b.ec2.send(new AttachVolumeCommand({ VolumeId: v2, InstanceId: mine, Device: '/dev/sdg' }));
      await until(async () => (await a.cloud.volumes.get(ACCOUNT, v2)).moveSource !== null && copiesOf(v1).length === 3);
      await b.ec2Other.send(new AttachVolumeCommand({ VolumeId: other, InstanceId: theirs, Device: '/dev/sdf' }));
      await until(() => copiesOf(other).length === 1);
      expect(copiesOf(v2)).toEqual([]);
      // A third of the account's at once: past its limit, refused, nothing claimed.
      const refused = await rejected(() => b.ec2.send(new AttachVolumeCommand({ VolumeId: v3, InstanceId: mine, Device: '/dev/sdh' })));
      expect(refused).toMatchObject({ name: 'ResourceLimitExceeded' });
      expect((refused as Error).message).toMatch(/may have 2 volumes moving .* at once/);
      expect(await a.cloud.volumes.get(ACCOUNT, v3)).toMatchObject({ instanceId: null, moveTo: null, state: 'available' });

      // The copies let go: every move ends attached on b, the account's second after its first.
      release();
      for (const [client, id] of [[a, v1], [a, v2]] as const) await until(async () => (await client.cloud.volumes.get(ACCOUNT, id)).attachState === 'attached');
      await until(async () => (await a.cloud.volumes.get('222222222222', other)).attachState === 'attached');
      expect([copiesOf(v1).at(-1)!.ended, copiesOf(v2).map((c) => c.ended), (await a.cloud.volumes.get(ACCOUNT, v2)).hostId]).toEqual(['copied', ['copied'], (await b.cloud.hosts.local())!.id]);
      // Below the limit again: the third moves.
      await b.ec2.send(new AttachVolumeCommand({ VolumeId: v3, InstanceId: mine, Device: '/dev/sdh' }));
      await until(async () => (await a.cloud.volumes.get(ACCOUNT, v3)).attachState === 'attached');

      // An export a move left open on its giving host, which did not hear the move end (its listener lost): closed
      // when the host catches up; one of a volume moving from it is kept.
      const [left, leaving] = await Promise.all([volume(d.ec2), volume(d.ec2)]);
      await d.iscsi.export(left, d.pool.volumePath(left), '10.99.0.2', { readOnly: true });
      await b.ec2.send(new AttachVolumeCommand({ VolumeId: leaving, InstanceId: mine, Device: '/dev/sdi' }));
      b.iscsi.hold = new Promise(() => undefined);
      await until(() => d.iscsi.exported.has(leaving));
      await d.cloud.volumes.moves!.sweep(false);
      expect([d.iscsi.exported.has(left), d.iscsi.exported.has(leaving)]).toEqual([false, true]);
      // The instance's end gives the move up: its copy stops, the volume is available on d again.
      await until(() => copiesOf(leaving).length === 1);
      await b.ec2.send(new TerminateInstancesCommand({ InstanceIds: [mine] }));
      await until(() => copiesOf(leaving)[0]!.ended === 'aborted');
      expect(await a.cloud.volumes.get(ACCOUNT, leaving)).toMatchObject({ hostId: hostD.id, instanceId: null, moveTo: null, state: 'available' });
      await b.ec2Other.send(new TerminateInstancesCommand({ InstanceIds: [theirs] }));
    } finally {
      release();
      b.iscsi.hold = undefined;
      b.cloud.config.limits = { ...b.cloud.config.limits, volumeMoves: a.cloud.config.limits.volumeMoves };
      await d.close();
      await a.cloud.db.update(hosts).set({ state: 'removed' }).where(eq(hosts.id, hostD.id));
    }
  });

  it('a snapshot stays on the host that took it: a volume or an image is made from it there (refused elsewhere, saying where); deleted through any server, its file goes from its host', async () => {
    const vol = (await b.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 1 }))).VolumeId!;
    const snap = (await b.ec2.send(new CreateSnapshotCommand({ VolumeId: vol }))).SnapshotId!;
    expect(await a.cloud.snapshots.get(ACCOUNT, snap)).toMatchObject({ hostId: (await b.cloud.hosts.local())!.id });
    // Listed through any server (a region's snapshots).
    expect((await a.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))).Snapshots!.map((s) => s.SnapshotId)).toEqual([snap]);
    // Through a, whose pool does not have it: refused, naming the zone of its host; nothing made.
    const volumesOfA = await a.pool.listVolumes();
    const refusal = await rejected(() => a.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, SnapshotId: snap })));
    expect(refusal).toMatchObject({ name: 'IncorrectState' });
    expect((refusal as Error).message).toMatch(/kept by another host of this cloud than this server's \(host-b, in us-east-1b\): create a volume from it/);
    expect(await a.pool.listVolumes()).toEqual(volumesOfA);
    expect(await errorCode(a.ec2.send(new RegisterImageCommand({ Name: 'from-b', RootDeviceName: '/dev/xvda', BootMode: 'uefi', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap } }] })))).toBe('IncorrectState');
    // Through b: made.
    const made = (await b.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 2, SnapshotId: snap }))).VolumeId!;
    expect(readFileSync(b.pool.volumePath(made), 'utf8')).toBe(`2 from ${snap}`);
    // Deleted through a: b, told, removes its file.
    expect(await b.pool.listSnapshots()).toContain(snap);
    await a.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap }));
    await until(async () => !(await b.pool.listSnapshots()).includes(snap));
    // A file here whose snapshot is gone (deleted while this host did not hear it) goes at the next start's sweep; a
    // snapshot that exists keeps its own.
    const kept = (await b.ec2.send(new CreateSnapshotCommand({ VolumeId: vol }))).SnapshotId!;
    await b.pool.snapshotFile(b.pool.volumePath(vol), 'snap-0123456789abcdef0');
    await b.cloud.snapshots.sweep();
    expect((await b.pool.listSnapshots()).filter((s) => [kept, 'snap-0123456789abcdef0'].includes(s))).toEqual([kept]);
    // A sweep while a snapshot is being taken (as when the listener is back, requests served meanwhile): its file, made
    // before its row, stays.
    let fileDone!: () => void;
    const fileMade = new Promise<void>((resolve) => { fileDone = resolve; });
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const snapshotFile = b.pool.snapshotFile.bind(b.pool);
    b.pool.snapshotFile = async (file, id) => { await snapshotFile(file, id); fileDone(); await held; };
    const taking = b.ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    try {
      await fileMade;
      const before = await b.pool.listSnapshots();
      await b.cloud.snapshots.sweep();
      expect(await b.pool.listSnapshots()).toEqual(before);
    } finally {
      release();
      b.pool.snapshotFile = snapshotFile;
    }
    const whileSwept = (await taking).SnapshotId!;
    expect(await b.pool.listSnapshots()).toContain(whileSwept);
    await b.ec2.send(new DeleteSnapshotCommand({ SnapshotId: whileSwept }));
    // One recorded before snapshots named their host: its file's host is its keeper (used there, refused elsewhere),
    // and its row names it from that host's next start.
    await a.cloud.db.update(snapshots).set({ hostId: null }).where(eq(snapshots.id, kept));
    expect(await errorCode(a.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, SnapshotId: kept })))).toBe('IncorrectState');
    const fromKept = (await b.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 1, SnapshotId: kept }))).VolumeId!;
    await b.cloud.snapshots.sweep();
    expect((await a.cloud.snapshots.get(ACCOUNT, kept)).hostId).toBe((await b.cloud.hosts.local())!.id);
    await a.ec2.send(new DeleteSnapshotCommand({ SnapshotId: kept }));
    await until(async () => !(await b.pool.listSnapshots()).includes(kept));
    await b.ec2.send(new DeleteVolumeCommand({ VolumeId: fromKept }));
    for (const id of [vol, made]) await b.ec2.send(new DeleteVolumeCommand({ VolumeId: id }));
  });

  it('a function made through one host runs through the other: its code taken from the database once, by its hash, ahead of its first invoke; its changes and its deletion followed', async () => {
    let routesB: FunctionRoute[] = [];
    b.cloud.functions.attachNginx({ baseUrl: 'http://nginx-b', sync: async (r: FunctionRoute[]) => { routesB = r; }, close: () => undefined } as unknown as NginxDriver);
    const [la, lb] = [lambdaOf(a), lambdaOf(b)];
    const role = await lambdaRole(a.endpoint, a.key);
    const one = zipOf('one');
    await la.send(new CreateFunctionCommand({ FunctionName: 'across', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: role, Code: { ZipFile: one } }));
    const v1 = await a.cloud.functions.get(ACCOUNT, 'across');
    // b was told: its route is there and the code with it, before anything invoked it there.
    await until(() => routesB.some((r) => r.name === 'across'));
    expect([b.functions.invoked.length, readFileSync(joinPath(b.functions.codeDir(ACCOUNT, 'across', v1.revision), '.package.zip'))]).toEqual([0, one]);
    expect(await packages()).toEqual([sha256(one)]);
    const out = await lb.send(new InvokeCommand({ FunctionName: 'across', Payload: Buffer.from('{"through":"b"}') }));
    expect([out.StatusCode, Buffer.from(out.Payload!).toString()]).toEqual([200, '{"through":"b"}']);
    expect([a.functions.invoked.length, b.functions.invoked.map((i) => i.key)]).toEqual([0, [functionKey(ACCOUNT, 'across', '$LATEST')]]);

    // New code through a: b has the new revision (its unit checked again), the old package is dropped (nothing names it).
    const two = zipOf('two');
    await la.send(new UpdateFunctionCodeCommand({ FunctionName: 'across', ZipFile: two }));
    const v2 = await a.cloud.functions.get(ACCOUNT, 'across');
    await until(() => b.functions.hasCode(ACCOUNT, 'across', v2.revision));
    expect(await packages()).toEqual([sha256(two)]);
    // A published version keeps its package while it is there.
    await lb.send(new PublishVersionCommand({ FunctionName: 'across' }));
    await la.send(new UpdateFunctionCodeCommand({ FunctionName: 'across', ZipFile: one }));
    expect(await packages()).toEqual([sha256(one), sha256(two)].sort());

    // Deleted through a: gone from b's routes and disk, and from the database.
    await la.send(new DeleteFunctionCommand({ FunctionName: 'across' }));
    // (b removes the code, then syncs its routes: both waited for.)
    await until(() => !existsSync(dirname(b.functions.codeDir(ACCOUNT, 'across', 'x'))) && !routesB.some((r) => r.name === 'across'));
    expect(await packages()).toEqual([]);
  });

  it('a function\'s reserved concurrency holds across hosts, Invoke and URL requests together: one running through one host throttles one more through the other until it ends', async () => {
    const [la, lb] = [lambdaOf(a), lambdaOf(b)];
    const role = await lambdaRole(a.endpoint, a.key);
    await la.send(new CreateFunctionCommand({ FunctionName: 'serial', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: role, Code: { ZipFile: zipOf('serial') } }));
    await la.send(new PutFunctionConcurrencyCommand({ FunctionName: 'serial', ReservedConcurrentExecutions: 1 }));
    const urlId = /\/url\/([0-9a-f]{32})\//.exec((await la.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'serial', AuthType: 'NONE' }))).FunctionUrl!)![1]!;
    // b's nginx (a stand-in: its secret) hands b's API the function's URL requests to count (nginx/function-url-relayed.conf).
    b.cloud.functions.attachNginx({
      baseUrl: 'http://nginx-b', sync: async () => undefined, close: () => undefined, authorizes: (h: Headers) => h.get('x-pcloud-authorizer') === 'b-secret',
    } as unknown as NginxDriver);
    const viaUrlOnB = async (body: string) => {
      const res = await fetch(`${b.endpoint}/pcloud/lambda/url-relay`, {
        method: 'POST', body, headers: { 'x-pcloud-authorizer': 'b-secret', 'x-pcloud-function': `${ACCOUNT}/serial`, 'x-pcloud-url': urlId, 'x-original-uri': `/url/${urlId}/p?q=1` },
      });
      return `${res.status} ${res.status === 429 ? (await res.json() as { Reason: string }).Reason : await res.text()}`;
    };
    // a's handler runs until let go.
    let letGo!: () => void;
    const held = new Promise<void>((r) => { letGo = r; });
    let entered = 0;
    const invoke = a.functions.invoke.bind(a.functions);
    a.functions.invoke = async (...args) => { entered++; await held; return await invoke(...args); };
    const failure = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error & { Reason?: string }) => `${e.name} ${e.Reason ?? ''}`);
    try {
      const running = la.send(new InvokeCommand({ FunctionName: 'serial', Payload: Buffer.from('{"n":1}') }));
      await until(() => entered === 1);
      expect(await failure(lb.send(new InvokeCommand({ FunctionName: 'serial', Payload: Buffer.from('{"n":2}') })))).toBe('TooManyRequestsException ReservedFunctionConcurrentInvocationLimitExceeded');
      expect(await viaUrlOnB('by URL')).toBe('429 ReservedFunctionConcurrentInvocationLimitExceeded');
      // A throttle is no invocation: b has counted none of its URL requests.
      expect(b.cloud.functions.invocationStats.of(ACCOUNT, 'serial')?.invocations ?? 0).toBe(0);
      letGo();
      expect((await running).StatusCode).toBe(200);
      // Its slot is let go of before a answers: b runs it now (as often as asked, one at a time).
      expect(await failure(lb.send(new InvokeCommand({ FunctionName: 'serial', Payload: Buffer.from('{"n":3}') })))).toBe('ok');
      expect((await lb.send(new InvokeCommand({ FunctionName: 'serial', Payload: Buffer.from('{"n":4}') }))).StatusCode).toBe(200);
      expect(b.functions.invoked.filter((i) => i.key === functionKey(ACCOUNT, 'serial', '$LATEST')).map((i) => i.payload.toString())).toEqual(['{"n":3}', '{"n":4}']);
      // A URL request through b holds the slot until its answer has been sent: a's Invoke is throttled meanwhile.
      let answer!: () => void;
      const answering = new Promise<void>((r) => { answer = r; });
      const relay = b.functions.relay.bind(b.functions);
      let relaying = 0;
      b.functions.relay = async (key, req) => {
        const r = await relay(key, req);
        relaying++;
        return { ...r, body: Readable.from((async function* () { await answering; yield* r.body; })()) };
      };
      try {
        const slow = viaUrlOnB('held');
        await until(() => relaying === 1);
        expect(await failure(la.send(new InvokeCommand({ FunctionName: 'serial', Payload: Buffer.from('{"n":6}') })))).toBe('TooManyRequestsException ReservedFunctionConcurrentInvocationLimitExceeded');
        answer();
        expect(await slow).toBe('200 held');
      } finally {
        answer();
        b.functions.relay = relay;
      }
      expect(await failure(la.send(new InvokeCommand({ FunctionName: 'serial', Payload: Buffer.from('{"n":7}') })))).toBe('ok');
      expect(await viaUrlOnB('again')).toBe('200 again');
      // b's Invokes (2) and URL requests answered (2), each once, the URL's as nginx's (the way the client came).
      expect(b.cloud.functions.invocationStats.of(ACCOUNT, 'serial')?.invocations).toBe(4);
    } finally {
      letGo();
      a.functions.invoke = invoke;
      await la.send(new DeleteFunctionCommand({ FunctionName: 'serial' }));
    }
  });

  it('a package is kept while a function or version runs it: its hash in a tenant\'s text (environment, description) keeps nothing', async () => {
    const la = lambdaOf(a);
    const role = await lambdaRole(a.endpoint, a.key);
    const big = zipOf('big package');
    const digest = sha256(big);
    await la.send(new CreateFunctionCommand({ FunctionName: 'runs-big', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: role, Code: { ZipFile: big } }));
    await la.send(new CreateFunctionCommand({
      FunctionName: 'names-big', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: role, Code: { ZipFile: zipOf('small') }, Description: digest,
      Environment: { Variables: { B64: createHash('sha256').update(big).digest('base64'), HEX: digest, LAYER: `{"digest":"${digest}"}` } },
    }));
    await la.send(new PublishVersionCommand({ FunctionName: 'names-big' }));
    expect(await packages()).toContain(digest);
    await la.send(new DeleteFunctionCommand({ FunctionName: 'runs-big' }));
    expect(await packages()).not.toContain(digest);
    await la.send(new DeleteFunctionCommand({ FunctionName: 'names-big' }));
    expect(await packages()).toEqual([]);
  });

  it('a package is unpacked only if it is the one named: a damaged one is refused (ResourceNotReadyException), nothing unpacked', async () => {
    const dir = await mkdtemp(joinPath(tmpdir(), 'pcloud-packages-'));
    const host = new FakeFunctionHost(dir);
    const packages = new FunctionPackages(a.cloud.db, host, true);
    const zip = zipOf('kept');
    await write(a.cloud.db, (tx) => packages.keep(tx, zip, sha256(zip)));
    await a.cloud.db.update(functionPackages).set({ zip: zipOf('swapped') }).where(eq(functionPackages.sha256, sha256(zip)));
    const view = { accountId: ACCOUNT, name: 'f', revision: 'r1', codeSha256: createHash('sha256').update(zip).digest('base64'), layers: [] } as unknown as FunctionView;
    expect(await rejected(() => packages.present(view))).toMatchObject({ code: 'ResourceNotReadyException' });
    expect([host.unpacked, host.hasCode(ACCOUNT, 'f', 'r1')]).toEqual([[], false]);
    await packages.release([sha256(zip)]);
    expect(await a.cloud.db.select().from(functionPackages).where(eq(functionPackages.sha256, sha256(zip)))).toEqual([]);
  });

  it('joining: a token is redeemed once for the database, the zones and a host key; refusals say what to do', async () => {
    const { token } = await issueToken(a.cloud.db, { zone: 'us-east-1b' });
    const res = await join(a, { token, name: 'new-host.example' });
    expect(res.status).toBe(200);
    const answer = await res.json() as { database: string; zones: string[]; zone: string; region: string; hostKey: string };
    expect(answer).toMatchObject({ database: servers.pg.url, zones: ZONES, zone: 'us-east-1b', region: 'us-east-1' });
    expect(await hostOfKey(a.cloud.db, answer.hostKey)).toBe('new-host.example');
    expect(await hostOfKey(a.cloud.db, answer.hostKey.slice(0, -1) + (answer.hostKey.endsWith('A') ? 'B' : 'A'))).toBeUndefined();

    const again = await join(b, { token, name: 'other-host' });
    expect([again.status, (await again.json() as { error: string }).error]).toEqual([403, 'the join token was used already: print a new one with `pcloud host token`']);
    const expired = (await issueToken(a.cloud.db, { ttlHours: 1, now: Date.now() - 2 * 3600_000 })).token;
    expect((await (await join(a, { token: expired, name: 'h' })).json() as { error: string }).error).toMatch(/has expired/);
    expect((await join(a, { token: 'pcloud-join-nope', name: 'h' })).status).toBe(403);
    for (const name of ['', 'a b', 'x'.repeat(300), '-lead', 'a\nb', 7]) expect((await join(a, { token, name })).status).toBe(400);
    expect((await join(a, '{not json')).status).toBe(400);

    // Under the name of a host that serves (b's): refused, the token not used (good for a name of its own).
    const taken = (await issueToken(a.cloud.db)).token;
    const clash = await join(a, { token: taken, name: 'host-b' });
    expect([clash.status, (await clash.json() as { error: string }).error]).toEqual([409, expect.stringMatching(/^a host named host-b is in this cloud and serving: give this machine a hostname of its own/)]);
    expect((await join(a, { token: taken, name: 'host-e.example' })).status).toBe(200);

    // Joined again under its name: the earlier key is no longer good.
    const second = await (await join(a, { token: (await issueToken(a.cloud.db)).token, name: 'new-host.example' })).json() as { hostKey: string; zone?: string };
    expect(second.zone).toBeUndefined();
    expect([await hostOfKey(a.cloud.db, answer.hostKey), await hostOfKey(a.cloud.db, second.hostKey)]).toEqual([undefined, 'new-host.example']);
  });

  it('a server on SQLite takes no hosts: no other can share its state (as a server without a database URL answers)', async () => {
    const url = a.cloud.databaseUrl;
    a.cloud.databaseUrl = undefined;
    try {
      const res = await join(a, { token: (await issueToken(a.cloud.db)).token, name: 'h' });
      expect([res.status, (await res.json() as { error: string }).error]).toEqual([409, expect.stringMatching(/^this cloud keeps its state in SQLite .* start its server with --database postgresql/)]);
    } finally {
      a.cloud.databaseUrl = url;
    }
  });
});
