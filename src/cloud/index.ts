/**
 * The cloud: the domain, composed over one database and one host. The API layers call into it; it decides and keeps
 * state, and acts on the host only through the drivers in src/host.
 */
import { join } from 'node:path';
import type { Db } from '../db/index.js';
import { closeDatabase, openDatabase } from '../db/open.js';
import { settled } from '../db/store.js';
import type { Host } from '../host/index.js';
import { hostConfigFromEnv, type HostConfig } from '../host/config.js';
import { openHost } from '../host/open.js';
import { NginxDriver } from '../host/nginx.js';
import { clearTakenDown, takenDown } from '../host/teardown.js';
import { Functions } from './functions/index.js';
import { RENEW_EVERY_MS } from './functions/credentials.js';
import { functionIdentity } from './functions/iam-bridge.js';
import { projectRoot } from '../paths.js';
import { Accounts } from './accounts.js';
import { Iam } from './iam/index.js';
import { IamAssociations } from './iam-associations.js';
import { InstanceCredentials } from './instance-credentials.js';
import { configFromEnv, type CloudConfig } from './config.js';
import { zoneHosts } from './hosts/placement.js';
import { HostRegistry } from './hosts/registry.js';
import { wakeupsOf, type WakeTopic, type Wakeups } from '../db/wakeups.js';
import { VolumeMoves } from './volume-moves.js';
import { Images } from './images.js';
import { ImageExports } from './image-export.js';
import { ImageFetch } from './image-fetch.js';
import { controlPlaneImages } from '../host/image-source.js';
import { Instances } from './instances/index.js';
import { KeyPairs } from './keypairs.js';
import { Metadata } from './metadata.js';
import { Network, type Permission, type SecurityGroupRule } from './network.js';
import { Tags, type Tag } from './tags.js';
import { Vms } from './vms.js';
import { Consoles } from './consoles.js';
import { Events } from './events.js';
import { Dashboard } from './dashboard.js';
import { Snapshots, type Snapshot } from './snapshots.js';
import { nfsPlug, Volumes } from './volumes.js';
import { CloudError, malformed } from './errors.js';
import { isId } from './ids.js';
import { holdsResources } from './instances/types.js';
import { PublicIps } from './public-ips.js';
import { Resources } from './resources.js';
import { SigningKeys } from './signing-keys.js';
import { VpcPlane } from './vpc-plane.js';
import { log } from '../log.js';
import { ensureDataDir } from '../paths.js';
import { Coalesced } from '../serial.js';

export interface CloudOptions {
  dataDir: string;
  config?: Partial<CloudConfig>;
  /** The host's settings (hostConfigFromEnv unless given). */
  hostConfig?: HostConfig;
  /** The state database's PostgreSQL URL; without one, a SQLite file in the data dir. */
  database?: string;
  /** Replace host drivers (tests only). */
  host?: Host;
}

export class Cloud {
  readonly accounts: Accounts;
  /** IAM and STS: identities, policies, temporary credentials, and the decision on every request. */
  readonly iam: Iam;
  /** Instance profiles on instances (EC2 IamInstanceProfile), and their roles' credentials for the metadata service. */
  readonly iamAssociations: IamAssociations;
  readonly instanceCredentials: InstanceCredentials;
  readonly tags: Tags;
  readonly network: Network;
  readonly keyPairs: KeyPairs;
  readonly images: Images;
  /** Images as tars for the hosts that lack them (the control plane's side: image-export.ts). */
  readonly imageExports: ImageExports;
  readonly instances: Instances;
  readonly vms: Vms;
  readonly consoles: Consoles;
  /** What happens to instances (state changes, status checks, failures), recorded and told to listeners (metrics). */
  readonly events: Events;
  /** The operator's web dashboard: its sessions and what it shows (dashboard.ts). */
  readonly dashboard: Dashboard;
  readonly volumes: Volumes;
  /** Snapshots, kept by the host that took them (snapshots.ts). */
  readonly snapshots: Snapshots;
  readonly functions: Functions;
  readonly metadata: Metadata;
  /** The host side of every VPC: instances attach to it; rules, gateways, Name tags and NFS volumes sync it. */
  readonly plane: VpcPlane;
  /** Which resources exist in an account (what tags may name). */
  readonly resources: Resources;
  /** The hosts instances run on; an embedded cloud's one is this machine (hosts/registry.ts). */
  readonly hosts: HostRegistry;
  /** What this process tells the others on the database, and hears from them (db/wakeups.ts). */
  readonly wakeups: Wakeups;
  /** The state database's URL (PostgreSQL), what hosts that join are given unless PCLOUD_JOIN_DATABASE_URL says. */
  databaseUrl?: string;
  private sweeper?: NodeJS.Timeout;
  private consoleSweeper?: NodeJS.Timeout;
  private credentialRenewer?: NodeJS.Timeout;
  private networkKeeper?: NodeJS.Timeout;
  private converger?: NodeJS.Timeout;

  private constructor(readonly db: Db, readonly host: Host, readonly config: CloudConfig, readonly dataDir: string) {
    this.accounts = new Accounts(db);
    this.hosts = new HostRegistry(db, host.machine, config, host.config.underlayAddress);
    this.wakeups = wakeupsOf(db);
    this.iam = new Iam(db, this.accounts, config, this.wakeups);
    this.iamAssociations = new IamAssociations(db);
    this.instanceCredentials = new InstanceCredentials(this.iamAssociations, this.iam.sessions);
    this.tags = new Tags(db);
    this.network = new Network(db, config);
    this.keyPairs = new KeyPairs(db);
    // A joined host fetches the images it lacks from its control plane (image-fetch.ts).
    const { controlUrl, hostKey } = host.config;
    const fetcher = controlUrl && hostKey ? new ImageFetch(db, host.pool, controlPlaneImages(controlUrl, hostKey)) : undefined;
    this.images = new Images(db, host.pool, {
      recipes: join(projectRoot(), 'images'), cache: join(dataDir, 'cache'), mirror: host.config.debianMirror,
    }, this.tags, fetcher);
    this.imageExports = new ImageExports(db, host.pool, join(dataDir, 'cache', 'exports'));
    this.vms = new Vms(host, config, this.images);
    const publicIps = new PublicIps(db, config);
    this.plane = new VpcPlane(db, host, config, this.network, this.tags, publicIps);
    // Which instances are this host's: the registry's row for it (an embedded cloud's host has no underlay address).
    this.plane.localHost = () => this.hosts.local();
    this.snapshots = new Snapshots(db, host, this.tags, this.hosts, this.wakeups);
    this.volumes = new Volumes(db, host, config, this.tags, this.vms.hotPlug, nfsPlug(host, this.plane), this.snapshots);
    this.volumes.isLocal = (hostId) => this.hosts.isLocal(hostId);
    this.volumes.moves = new VolumeMoves(db, host, this.hosts, this.wakeups, config);
    this.volumes.servesZone = async (zone) => {
      const local = this.hosts.localHostId();
      return local === undefined || zoneHosts(await this.hosts.list(), zone).some((h) => h.id === local);
    };
    this.events = new Events(db);
    this.instances = new Instances({
      db, host, config, images: this.images, keyPairs: this.keyPairs, network: this.network, tags: this.tags, vms: this.vms,
      volumes: this.volumes, snapshots: this.snapshots, plane: this.plane, publicIps, profiles: this.iamAssociations, events: this.events,
      hosts: this.hosts, wakeups: this.wakeups,
    });
    this.resources = new Resources({
      instances: this.instances, images: this.images, keyPairs: this.keyPairs, network: this.network, volumes: this.volumes, snapshots: this.snapshots, templates: this.instances.templates,
    });
    this.functions = new Functions(db, host.functions, config, this.tags, {
      vncPath: (_accountId, instanceId) => this.vms.vncPath(instanceId),
      ensureRunning: (accountId, instanceId) => this.instances.ensureRunning(accountId, instanceId),
      stop: async (accountId, instanceId) => { await this.instances.stop(accountId, [instanceId]); },
      isRunning: async (_accountId, instanceId) => (await this.instances.row(instanceId))?.state === 'running',
      owns: async (accountId, instanceId) => (await this.instances.row(instanceId))?.accountId === accountId,
    }, undefined, functionIdentity(this.iam));
    // Every host serves every function: a change here is told to the others (their units and routes follow).
    this.functions.onChange = (accountId) => this.wakeups.tell('functions', accountId);
    // Keys every server on this database signs with (made before the table: taken from the data dir's keys/).
    const signingKeys = new SigningKeys(db, join(dataDir, 'keys'));
    this.consoles = new Consoles(this.instances, this.vms, signingKeys);
    this.dashboard = new Dashboard({
      db, hosts: config.hosts, iam: this.iam, accounts: this.accounts, instances: this.instances, tags: this.tags, functions: this.functions,
    }, signingKeys);
    this.metadata = new Metadata(db, config, this.network, this.keyPairs, this.tags, signingKeys, this.instanceCredentials);
  }

  static async open(opts: CloudOptions): Promise<Cloud> {
    await ensureDataDir(opts.dataDir);
    const config = { ...configFromEnv(), runDir: join(opts.dataDir, 'run'), ...opts.config };
    const hostConfig = opts.hostConfig ?? hostConfigFromEnv();
    const db = await openDatabase(opts.dataDir, opts.database);
    const host = opts.host ?? await openHost(opts.dataDir, hostConfig);
    const cloud = new Cloud(db, host, config, opts.dataDir);
    cloud.databaseUrl = opts.database;
    return cloud;
  }

  /** Authorize or revoke security group rules, then apply them to the group's VPC on the host. */
  async changeRules(accountId: string, groupId: string, egress: boolean, change: { add?: Permission[]; remove?: Permission[]; ruleIds?: string[] }): Promise<SecurityGroupRule[]> {
    const group = await this.network.group(accountId, groupId);
    const added = change.add ? (await this.network.authorize(accountId, groupId, egress, change.add)) : [];
    if (change.remove || change.ruleIds) await this.network.revoke(accountId, groupId, egress, change.remove ?? [], change.ruleIds ?? []);
    await this.plane.syncFirewall(accountId, group.vpcId);
    return added;
  }

  /**
   * ModifyInstanceAttribute; a changed source/dest check changes what the VPC's router forwards for the instance (an
   * instance that routes for others, a NAT instance, needs it off), so the router's rules follow at once.
   */
  async modifyInstanceAttributes(accountId: string, id: string, changes: Parameters<Instances['modifyAttributes']>[2]): Promise<void> {
    await this.instances.modifyAttributes(accountId, id, changes);
    if (changes.sourceDestCheck !== undefined) {
      const inst = await this.instances.get(accountId, id);
      await this.plane.syncFirewall(accountId, inst.vpcId);
    }
  }

  /**
   * CreateSnapshot: of a created volume, or of a VM instance's root volume (its raw disk by reflink, crash-consistent
   * as EBS's; RegisterImage makes an AMI of it). A container's root is a directory, not a disk: CreateImage images it.
   */
  async createSnapshot(accountId: string, volumeId: string, description: string, tags: Tag[]): Promise<Snapshot> {
    if (!isId('vol', volumeId)) throw malformed('InvalidVolumeID.Malformed', volumeId);
    const root = (await this.instances.describe(accountId, { ids: [], filters: [{ name: 'block-device-mapping.volume-id', values: [volumeId] }] }))
      .instances.find((i) => i.rootVolumeId === volumeId && holdsResources(i));
    if (!root) return this.volumes.createSnapshot(accountId, volumeId, description, tags);
    if (root.runtime === 'container') {
      throw new CloudError('UnsupportedOperation', `The volume '${volumeId}' is the root of the container instance '${root.id}', a directory rather than a disk: make its image with CreateImage.`);
    }
    if (!this.hosts.isLocal(root.hostId)) {
      throw new CloudError('IncorrectState', `The volume '${volumeId}' is the root volume of the instance '${root.id}', which runs on another host of this cloud than this server's: snapshot it through the API of a server of that host.`);
    }
    const file = this.host.pool.rawDiskPath(root.id);
    return this.snapshots.take(accountId, { id: volumeId, sizeGiB: root.rootVolumeSizeGiB, file }, description, tags);
  }

  /** CreateTags / DeleteTags; a changed Name tag of an instance is a changed DNS name in its VPC. */
  async retag(accountId: string, ids: string[], change: { put?: Tag[]; remove?: { key: string; value?: string }[] }): Promise<void> {
    if (change.put) await this.tags.put(accountId, ids, change.put);
    if (change.remove) await this.tags.remove(accountId, ids, change.remove);
    const names = [...(change.put ?? []), ...(change.remove ?? [])].some((t) => t.key === 'Name');
    const instanceIds = ids.filter((id) => id.startsWith('i-'));
    if (names && instanceIds.length) await this.plane.refreshNames(accountId, instanceIds);
  }

  /** Attach or detach an internet gateway, and switch the VPC router's NAT to match. */
  async switchInternet(accountId: string, igwId: string, vpcId: string, attach: boolean): Promise<void> {
    if (attach) await this.network.attachInternetGateway(accountId, igwId, vpcId);
    else await this.network.detachInternetGateway(accountId, igwId, vpcId);
    await this.plane.syncEdge(vpcId);
  }

  /** DeleteVpc: the record, then its router on the host. */
  async deleteVpc(accountId: string, vpcId: string): Promise<void> {
    await this.network.deleteVpc(accountId, vpcId);
    await this.tags.removeAll([vpcId]);
    await this.plane.removeRouter(vpcId);
  }

  /** Reconcile with the host, then follow unit events and sweep old terminated instances. */
  async start(): Promise<void> {
    this.instances.listen();
    // Each step on its own: one that fails is reported and the server starts anyway (each skips its bad records too).
    const stats: Record<string, number> = {};
    const step = async (what: string, fn: () => Promise<Record<string, number>>) => {
      try {
        Object.assign(stats, await fn());
      } catch (err) {
        log.error(`reconciling ${what} with the host failed, skipped: ${(err as Error).message}`);
      }
    };
    // This machine's row first: whether it booted since the last start decides what reconcile makes of ended units.
    const { host: local, rebooted } = await this.hosts.registerLocal();
    // The instances it launches again (all that ran, after a reboot) wait for the VPC plane's sweep below: it removes
    // host links of routers it did not list, which a launch making its VPC's router meanwhile would lose. Each launch
    // makes its router (and uplink) anew if the boot took it.
    this.hosts.startHeartbeat();
    let planeSwept!: () => void;
    const launchesAfter = new Promise<void>((resolve) => { planeSwept = resolve; });
    // `pcloud down` stopped every unit of this data dir since (host/teardown.ts): as after a boot, the instances that
    // ran are brought back (their units read as ended by their guests otherwise), and the record is done with.
    const down = await takenDown(this.dataDir);
    if (down) log.info('pcloud down stopped this data dir\'s units: the instances that ran are launched again');
    try {
      await step('instances', () => this.instances.reconcile({ rebooted: rebooted || down, launchesAfter, hostId: local.id }));
      if (down) await clearTakenDown(this.dataDir);
      await step('images', async () => ({ partialImages: await this.images.reconcile() }));
      if (this.host.functions) await step('functions', async () => ({ orphanFunctionUnits: await this.functions.reconcile() }));
      if (this.plane.enabled) await step('networks', () => this.plane.reconcile());
      // Before any request: moves a previous process left, files of volumes gone or moved (volume-moves.ts).
      await step('volumes', async () => { await this.volumes.moves?.sweep(true); await this.snapshots.sweep(); return {}; });
    } finally {
      planeSwept();
    }
    // A joined host fetches ahead, in the background, the default image and those of its instances (image-fetch.ts):
    // the first launch of them here does not wait for the transfer (one that does shares the fetch under way).
    void this.images.prefetch(local.id).then((n) => { if (n) log.info(`fetched ${n} image${n > 1 ? 's' : ''} from the control plane ahead of launches`); })
      .catch((err: unknown) => log.warn(`fetching images ahead: ${(err as Error).message}`));
    if (Object.values(stats).some(Boolean)) log.info('reconciled with the host', stats);
    await this.followOthers(local.id, launchesAfter);
    this.events.reconciled(stats);
    await this.instances.sweep();
    // The metadata service in every VPC router there is (instances there may have run on without us).
    if (this.plane.enabled) await this.plane.ensureMetadata();
    this.sweeper = setInterval(() => void this.instances.sweep().catch((err) => log.warn(`terminated instances: ${(err as Error).message}`)), Math.min(60_000, this.config.terminatedTtlMs));
    this.sweeper.unref();
    // Fat lambdas whose console went idle stop their VM.
    this.consoleSweeper = setInterval(() => void this.functions.sweepConsoles().catch((err) => log.warn(`consoles: ${(err as Error).message}`)), 2000);
    this.consoleSweeper.unref();
    // Running functions' role sessions renewed well before they end.
    this.credentialRenewer = setInterval(() => void this.functions.renewCredentials().catch((err) => log.warn(`function credentials: ${(err as Error).message}`)), RENEW_EVERY_MS);
    this.credentialRenewer.unref();
    // The handlers' network filter, written again should a firewall reload flush it.
    this.networkKeeper = setInterval(() => void this.host.functions.keepNetwork?.().catch((err) => log.warn(`functions' network filter: ${(err as Error).message}`)), 60_000);
    this.networkKeeper.unref();
  }

  /**
   * This host as an agent of a cloud of several (issue 17): what another server asks of this host's instances (told
   * by the database: host:ID) is taken up, as are changes of other hosts' instances in VPCs this host has a router for
   * (vpc:ID). Also once a minute, and after the wake-ups were lost and heard again: a wake-up is a hint, the database
   * the truth. Nothing is heard on SQLite (one host).
   */
  private async followOthers(localId: string, after: Promise<unknown>): Promise<void> {
    // One run at a time; what is heard meanwhile is taken up by one more run.
    const converging = new Coalesced(() => after.then(() => this.instances.converge(localId))
      .then((n) => { if (n) log.info(`took up ${n} change${n > 1 ? 's' : ''} of this host's instances made elsewhere`); })
      .catch((err) => log.warn(`taking up changes of this host's instances: ${(err as Error).message}`)));
    const converge = (): void => void converging.ask();
    const follow = (vpcId: string): void => {
      void after.then(() => this.plane.followVpc(vpcId)).catch((err) => log.warn(`following ${vpcId}: ${(err as Error).message}`));
    };
    const reboot = (id: string): void => void this.instances.rebootTold(id).catch((err) => log.warn(`rebooting ${id}: ${(err as Error).message}`));
    const functions = this.followFunctions(after);
    const volumes = (id?: string): void => {
      void (id ? this.volumes.moves?.told(id) : this.volumes.moves?.sweep(false))?.catch((err: Error) => log.warn(`volumes: ${err.message}`));
    };
    const heard = (topic: WakeTopic, id: string): void => {
      if (topic === 'host') { if (id === localId) converge(); } else if (topic === 'vpc') follow(id);
      else if (topic === 'reboot') reboot(id);
      else if (topic === 'volume') volumes(id);
      else if (topic === 'snapshot') void this.snapshots.told(id).catch((err: Error) => log.warn(`snapshot ${id}: ${err.message}`));
      else if (topic === 'iam') this.iam.told();
      else functions(id);
    };
    // Wake-ups missed while the listening connection was lost: everything looked at again.
    const snapshotFiles = (): void => void this.snapshots.sweep().catch((err: Error) => log.warn(`snapshots: ${err.message}`));
    const caughtUp = (): void => { this.iam.told(); converge(); functions(); volumes(); snapshotFiles(); };
    let listening = true;
    await this.wakeups.listen(heard, caughtUp).catch((err) => {
      listening = false;
      log.error(`listening for other servers' changes failed: ${(err as Error).message}; this host takes them up once a minute`);
    });
    // Instances once a minute too (a wake-up is a hint, the database the truth); functions only if nothing is heard.
    this.converger = setInterval(listening ? converge : caughtUp, 60_000);
    this.converger.unref();
    converge();
  }

  /**
   * Changes of functions made through other hosts' APIs (functions:ACCOUNT), taken up one run at a time; what is heard
   * meanwhile is taken up by one more run (every account, if any was a catch-up). Only where other hosts share them.
   */
  private followFunctions(after: Promise<unknown>): (accountId?: string) => void {
    let running: Promise<unknown> | undefined;
    let pending: Set<string> | 'all' | undefined;
    const run = (accountId?: string): void => {
      if (!this.functions.shared) return;
      if (running) {
        pending = accountId === undefined || pending === 'all' ? 'all' : (pending ?? new Set()).add(accountId);
        return;
      }
      running = after.then(() => this.functions.followOthers(accountId))
        .catch((err) => log.warn(`taking up other hosts' changes of functions: ${(err as Error).message}`))
        .finally(() => {
          running = undefined;
          const next = pending;
          pending = undefined;
          if (next === 'all') run();
          else if (next?.size === 1) run([...next][0]);
          else if (next) run();
        });
    };
    return run;
  }

  /**
   * Run pcloud's nginx in front of the functions (`listen`), asking pcloud's API (`api`) to authorize requests, with a
   * route per function; every function's socket unit runs, so nginx always has a socket to connect to.
   */
  async startNginx(listen: string, api: string): Promise<void> {
    const nginx = new NginxDriver(this.host.units, join(this.dataDir, 'run/nginx'), listen, api);
    // What nginx serves itself (function URLs, Invoke through it) is counted where the API's invokes are.
    nginx.onInvocation((i) => this.functions.nginxInvoked(i));
    this.functions.attachNginx(nginx, api);
    await nginx.start([], { concurrency: this.config.limits.concurrentExecutions });
    await this.functions.syncRoutes();
  }

  async close(): Promise<void> {
    this.hosts.stopHeartbeat();
    clearInterval(this.sweeper);
    clearInterval(this.consoleSweeper);
    clearInterval(this.credentialRenewer);
    clearInterval(this.networkKeeper);
    clearInterval(this.converger);
    await this.wakeups.close();
    this.instances.close();
    this.host.metadata.closeAll();
    await this.instances.idle();
    await this.host.functions.close?.().catch((err: unknown) => log.warn(`functions: ${(err as Error).message}`));
    await this.functions.close();
    this.functions.nginx?.close();
    this.host.units.close();
    // A transaction a sweep or a request still runs ends before the connection does.
    await settled(this.db);
    await closeDatabase(this.db);
  }
}
