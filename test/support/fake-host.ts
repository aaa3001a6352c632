/**
 * A test double of the host drivers, for API and domain tests that do not need real containers: a pool that keeps
 * disks in a temp dir and a unit manager that "runs" units in memory and reports READY at once. Never used outside
 * test/.
 */
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { mkdtemp, mkdir, rm, readdir, access, writeFile, readFile, copyFile, cp } from 'node:fs/promises';
import type { ServiceRecords } from '../../src/host/types.js';
import { PcloudCa } from '../../src/host/tls.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type {
  DnsRecord, Edge, Host, HostDns, Overlay, HostFunctions, HostIscsi, HostMachine, HostMetadata, MachineCapacity, HostNetwork, HostNfs, HostPool, Nic, PortRules,
  RelayAnswer, RelayRequest,
} from '../../src/host/index.js';
import { hostConfigFromEnv } from '../../src/host/config.js';
import { checkOverlay } from '../../src/host/vxlan.js';
import { FakeVmControl } from './fake-vm-control.js';
import { isFinal, type UnitManager, type UnitSpec, type UnitStatus } from '../../src/host/units/types.js';

export class FakeUnits implements UnitManager {
  readonly kind = 'direct' as const;
  /** As the direct manager: no machine registry (a test may say there is one). */
  registersMachines = false;
  readonly units = new Map<string, UnitStatus & { spec: UnitSpec }>();
  readonly started: UnitSpec[] = [];
  private readonly listeners = new Set<(s: UnitStatus) => void>();
  /** When false, units stay `activating` until ready() is called. */
  autoReady = true;
  failNextStart?: Error;

  async start(spec: UnitSpec): Promise<void> {
    if (this.failNextStart) {
      const err = this.failNextStart;
      this.failNextStart = undefined;
      throw err;
    }
    this.started.push(spec);
    // Containers tell their leader PID (nspawn's X_NSPAWN_LEADER_PID): here, this process stands in for it.
    const notify = spec.name.startsWith('pcloud-instance@') ? { X_NSPAWN_LEADER_PID: String(process.pid) } : undefined;
    this.units.set(spec.name, { name: spec.name, state: 'activating', spec, startedAt: Date.now(), notify });
    if (this.autoReady) setTimeout(() => this.ready(spec.name), 1);
  }
  ready(name: string): void { this.set(name, { state: 'active', readyAt: Date.now() }); }
  /** The unit's main process says a new status text (sd_notify STATUS=: a guest's boot stage), as the managers tell it. */
  say(name: string, statusText: string): void { this.set(name, { statusText }); }
  exit(name: string, result: string): void { this.set(name, { state: result === 'success' ? 'inactive' : 'failed', result }); }
  private set(name: string, patch: Partial<UnitStatus>): void {
    const u = this.units.get(name);
    if (!u) return;
    Object.assign(u, patch);
    for (const l of this.listeners) l(u);
  }
  async stop(name: string) {
    const u = this.units.get(name);
    if (u && !isFinal(u.state)) this.set(name, { state: 'inactive', result: 'success' });
    return u;
  }
  async restart(name: string) { this.set(name, { state: 'active' }); }
  readonly signals: { name: string; signal: string }[] = [];
  async signal(name: string, signal: string) { this.signals.push({ name, signal }); }
  async status(name: string) { return this.units.get(name); }
  async list(prefix: string) { return [...this.units.values()].filter((u) => u.name.startsWith(prefix)); }
  async remove(name: string) { this.units.delete(name); }
  async logs(name: string) { return Buffer.from(this.units.has(name) ? `console of ${name}\n` : ''); }
  logCommand(name: string) { return ['echo', `console of ${name}`]; }
  onChange(l: (s: UnitStatus) => void) { this.listeners.add(l); return () => this.listeners.delete(l); }
  close() { this.listeners.clear(); }
}

export class FakePool implements HostPool {
  vmDir(imageId: string) { return join(this.root, 'images', `${imageId}.vm`); }
  readonly kind = 'btrfs' as const;
  constructor(readonly root: string) {}
  diskPath(id: string) { return join(this.root, 'instances', id); }
  imagePath(id: string) { return join(this.root, 'images', id); }
  async fork(_image: string, id: string) {
    const p = this.diskPath(id);
    await mkdir(join(p, 'etc'), { recursive: true });
    return p;
  }
  async hasDisk(id: string) { return access(this.diskPath(id)).then(() => true, () => false); }
  async removeDisk(id: string) { await rm(this.diskPath(id), { recursive: true, force: true }); }
  async removeImage(id: string) { await rm(this.imagePath(id), { recursive: true, force: true }); }
  async listDisks() { return readdir(join(this.root, 'instances')).catch(() => [] as string[]); }
  async createImageRoot(name: string) { const p = join(this.root, 'images', name); await mkdir(p, { recursive: true }); return p; }
  async markOwner() {}
  /** A copy of the instance's disk directory (its files, as a reflink copy would have them). */
  async imageRootFromDisk(instanceId: string, name: string) {
    const p = join(this.root, 'images', name);
    await cp(this.diskPath(instanceId), p, { recursive: true });
    return p;
  }
  async copyRawDisk(instanceId: string, dest: string) { await copyFile(this.rawDiskPath(instanceId), dest); }
  async sealImage(build: string, _id: string) { return build; }
  async listImageRoots() { return (await readdir(join(this.root, 'images')).catch(() => [] as string[])).map((name) => ({ name })); }
  stateDir(id: string) { return `${this.diskPath(id)}.state`; }
  rawDiskPath(id: string) { return `${this.diskPath(id)}.raw`; }
  async forkRaw(_image: string, id: string) { await writeFile(this.rawDiskPath(id), ''); return this.rawDiskPath(id); }
  volumePath(id: string) { return join(this.root, 'volumes', `${id}.raw`); }
  snapshotPath(id: string) { return join(this.root, 'snapshots', `${id}.raw`); }
  /** Volume files hold their size in GiB, and what they were copied from. */
  async createVolume(id: string, sizeGiB: number, fromSnapshot?: string) {
    await mkdir(join(this.root, 'volumes'), { recursive: true });
    const from = fromSnapshot ? await readFile(this.snapshotPath(fromSnapshot), 'utf8') : '';
    await writeFile(this.volumePath(id), `${sizeGiB}${from ? ` from ${fromSnapshot}` : ''}`);
    return this.volumePath(id);
  }
  async snapshotFile(file: string, id: string) { await mkdir(join(this.root, 'snapshots'), { recursive: true }); await copyFile(file, this.snapshotPath(id)); }
  async removeVolume(id: string) { await rm(this.volumePath(id), { force: true }); }
  async listVolumes() { return [...new Set((await readdir(join(this.root, 'volumes')).catch(() => [] as string[])).map((n) => n.replace(/\.raw(\.tmp)?$/, '')))]; }
  async removeSnapshot(id: string) { await rm(this.snapshotPath(id), { force: true }); }
  async listSnapshots() {
    const names = (await readdir(join(this.root, 'snapshots')).catch(() => [] as string[])).filter((n) => n.startsWith('snap-'));
    return [...new Set(names.map((n) => n.replace(/\.raw(\.tmp)?$/, '')))];
  }
}

/** Records NFS exports and the mounts that would be made in containers. */
export class FakeNfs implements HostNfs {
  readonly port = 2049;
  readonly exported = new Map<string, { file: string; client: string }>();
  readonly mounts: { leader: number; server: string; volumeId: string; target: string }[] = [];
  readonly unmounts: string[] = [];
  async export(id: string, file: string, client: string) { this.exported.set(id, { file, client }); }
  async unexport(id: string) { this.exported.delete(id); }
  async mountInto(leader: number, server: string, volumeId: string, target: string) { this.mounts.push({ leader, server, volumeId, target }); }
  async unmountFrom(_leader: number, target: string) { this.unmounts.push(target); }
}

/** What every fake host of this process exports, by target name: another fake host copies from it (one machine). */
const targets = new Map<string, { file: string; initiator: string }>();

/** Records what would be exported over iSCSI; copies another fake host's export as the file it names. */
export class FakeIscsi implements HostIscsi {
  readonly exported = new Map<string, { file: string; initiator: string }>();
  readonly portals: string[] = [];
  /** Every export made, in order. */
  readonly given: { id: string; initiator: string; readOnly: boolean }[] = [];
  async ensure() {}
  async addPortal(address: string) { if (!this.portals.includes(address)) this.portals.push(address); }
  async export(id: string, file: string, initiator: string, opts: { readOnly?: boolean } = {}) {
    this.exported.set(id, { file, initiator });
    this.given.push({ id, initiator, readOnly: opts.readOnly ?? false });
    targets.set(id, { file, initiator });
  }
  async unexport(id: string) { if (this.exported.delete(id)) targets.delete(id); }
  async exportedVolumes() { return [...this.exported.keys()]; }
  /** While set, a copy, once started, waits for it (or its signal's abort) before it copies: a copy under way, held. */
  hold?: Promise<void>;
  /** Every copy started, by volume id, and how it ended (undefined: still under way). */
  readonly copies: { id: string; ended?: 'copied' | 'aborted' | 'failed' }[] = [];
  async copyFrom(uri: string, file: string, _timeoutMs: number, signal?: AbortSignal) {
    const id = /:(vol-[0-9a-f]+)\/1$/.exec(uri)?.[1];
    const copy: (typeof this.copies)[number] = { id: id ?? uri };
    this.copies.push(copy);
    try {
      const held = this.hold;
      if (held) {
        await new Promise<void>((resolve, reject) => {
          const aborted = () => reject(signal!.reason as Error);
          if (signal?.aborted) return aborted();
          signal?.addEventListener('abort', aborted, { once: true });
          void held.then(() => { signal?.removeEventListener('abort', aborted); resolve(); });
        });
      }
      const target = id && targets.get(id);
      if (!target) throw new Error(`iscsi: no target at ${uri}`);
      await mkdir(dirname(file), { recursive: true });
      await copyFile(target.file, file);
      copy.ended = 'copied';
    } catch (err) {
      copy.ended = signal?.aborted ? 'aborted' : 'failed';
      throw err;
    }
  }
  uri(id: string, portal: string) { return `iscsi://${portal}:3260/iqn.2026-11.org.pcloud:${id}/1`; }
}

/** Records attachments instead of making namespaces. */
export class FakeNetwork implements HostNetwork {
  readonly attached = new Map<string, Nic>();
  readonly vpcs = new Map<string, { address: string; prefixLength: number }[]>();
  readonly firewalls = new Map<string, PortRules[]>();
  /** Its instances' namespaces and its VPC routers', as the driver names them. */
  async namespaces() { return [...this.attached.keys(), ...this.vpcs.keys()].map((id) => `pcloud-${id}`); }
  async applyFirewall(vpcId: string, ports: PortRules[]) { this.firewalls.set(vpcId, ports); }
  async ensureVpc(vpcId: string, gateways: { address: string; prefixLength: number }[]) { this.vpcs.set(vpcId, gateways); }
  async attach(nic: Nic) { this.attached.set(nic.instanceId, nic); return `/run/netns/pcloud-${nic.instanceId}`; }
  async detach(id: string) { this.attached.delete(id); }
  readonly internet = new Map<string, boolean>();
  readonly edges = new Map<string, Edge>();
  async reconcileLinks() { return 0; }
  async ports() { return [] as string[]; }
  async removePort() {}
  async attachTap(nic: Nic) { this.attached.set(nic.instanceId, nic); }
  async detachTap(_vpc: string, id: string) { this.attached.delete(id); }
  async setEdge(vpcId: string, edge: Edge) { this.internet.set(vpcId, edge.internet); this.edges.set(vpcId, edge); }
  async removeVpc(id: string) { this.vpcs.delete(id); this.overlays.delete(id); }
  /** Each VPC's overlay as last joined (a copy), and every join and leave in order. */
  readonly overlays = new Map<string, Overlay>();
  readonly overlayCalls: ({ op: 'join'; vpcId: string; overlay: Overlay } | { op: 'leave'; vpcId: string })[] = [];
  async joinVpc(vpcId: string, overlay: Overlay) {
    const copy = structuredClone(checkOverlay(overlay)); // refused as the real driver refuses it
    this.overlays.set(vpcId, copy);
    this.overlayCalls.push({ op: 'join', vpcId, overlay: copy });
  }
  async leaveVpc(vpcId: string) { this.overlays.delete(vpcId); this.overlayCalls.push({ op: 'leave', vpcId }); }
}

/** Keeps each VPC's published records. */
export class FakeDns implements HostDns {
  readonly records = new Map<string, DnsRecord[]>();
  async ensure() {}
  async publish(vpcId: string, records: DnsRecord[]) { this.records.set(vpcId, records); }
  async remove(vpcId: string) { this.records.delete(vpcId); }
  readonly released: { vpcId: string; instanceId: string; ip: string; mac: string }[] = [];
  async release(vpcId: string, instanceId: string, ip: string, mac: string) { this.released.push({ vpcId, instanceId, ip, mac }); }
  services?: ServiceRecords;
  serve(services: ServiceRecords) { this.services = services; }
}

export class FakeMetadata implements HostMetadata {
  readonly vpcs = new Set<string>();
  handle() {}
  async ensure(vpcId: string) { this.vpcs.add(vpcId); }
  close(vpcId: string) { this.vpcs.delete(vpcId); }
  closeAll() { this.vpcs.clear(); }
}

/** Function code unpacked into a directory (the zip kept as is), invokes echo their payload: no units, no runtimes. */
export class FakeFunctions implements HostFunctions {
  readonly started = new Set<string>();
  readonly invoked: { key: string; payload: Buffer }[] = [];
  /** Layers it keeps none of, unless a test gives it these. */
  layerDigests?: () => Promise<string[]>;
  removeLayer?: (digest: string) => Promise<void>;
  constructor(private readonly dir: string) {}
  socketPath(key: string) { return join(this.dir, 'lambda', `${key}.sock`); }
  codeDir(accountId: string, name: string, revision: string) { return join(this.dir, 'functions', accountId, name, revision); }
  async unpack(accountId: string, name: string, revision: string, zip: Buffer) {
    const dir = this.codeDir(accountId, name, revision);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.package.zip'), zip);
    return dir;
  }
  hasCode(accountId: string, name: string, revision: string) { return existsSync(this.codeDir(accountId, name, revision)); }
  hasLayer() { return false; }
  async codeAccounts() { return await readdir(join(this.dir, 'functions')).catch(() => []); }
  async codeNames(accountId: string) { return await readdir(join(this.dir, 'functions', accountId)).catch(() => []); }
  recheck() {}
  async removeCode(accountId: string, name?: string) {
    await rm(name ? join(this.dir, 'functions', accountId, name) : join(this.dir, 'functions', accountId), { recursive: true, force: true });
  }
  async ensure(o: { key: string }) { this.started.add(o.key); }
  async stop(key: string) { this.started.delete(key); }
  async list() { return [...this.started]; }
  async invoke(key: string, payload: Buffer, opts: { requestId: string }) {
    this.invoked.push({ key, payload });
    return { status: 200, payload, requestId: opts.requestId };
  }
  /** A URL's request echoed back (its body), as an invoke's payload is. */
  async relay(_key: string, req: RelayRequest): Promise<RelayAnswer> {
    return { status: 200, headers: [], body: Readable.from([req.body]) };
  }
}

/**
 * Failure knob: the next call of `fake[method]` (any fake driver's, e.g. `failNext(api.nfs, 'mountInto', err)`) throws
 * `err`; the call after it is the fake's own again.
 */
export function failNext<T extends object>(fake: T, method: keyof T & string, err: unknown): void {
  Object.defineProperty(fake, method, {
    configurable: true, writable: true,
    value: async () => {
      delete (fake as Record<string, unknown>)[method];
      throw err;
    },
  });
}

/** A machine of 4 vCPUs and 16 GiB with every runtime, in the boot a test says (a reboot: a new bootId). */
export class FakeMachine implements HostMachine {
  bootIdNow = 'boot-1';
  offer: MachineCapacity = { hostname: 'fake-host', vcpus: 4, memoryMiB: 16_384, runtimes: ['container', 'microvm', 'q35'], kvm: false };
  async bootId() { return this.bootIdNow; }
  async capacity() { return { ...this.offer, runtimes: [...this.offer.runtimes] }; }
}

export async function fakeHost(): Promise<{ host: Host; units: FakeUnits; machine: FakeMachine; pool: FakePool; network: FakeNetwork; dns: FakeDns; iscsi: FakeIscsi; nfs: FakeNfs; functions: FakeFunctions; vms: FakeVmControl; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pcloud-fake-'));
  await mkdir(join(dir, 'instances'), { recursive: true });
  const units = new FakeUnits();
  const pool = new FakePool(dir);
  const network = new FakeNetwork();
  const dns = new FakeDns();
  const iscsi = new FakeIscsi();
  const nfs = new FakeNfs();
  const functions = new FakeFunctions(dir);
  // The guest powers off on the power button: its QEMU, the instance's unit, ends.
  const vms = new FakeVmControl(join(dir, 'run'), (id) => units.exit(`pcloud-instance@${id}`, 'success'));
  const machine = new FakeMachine();
  return {
    // The host's settings as they are with nothing set (nothing here reads them but the domain's q35 and image builds).
    host: { config: hostConfigFromEnv({}), pool, units, network, dns, metadata: new FakeMetadata(), iscsi, nfs, functions, vms, tls: new PcloudCa(join(dir, 'tls')), machine },
    units, machine, pool, network, dns, iscsi, nfs, functions, vms, dir,
  };
}
