/**
 * Instances: the decisions and the state, split by job. params.ts validates what is asked; launch.ts stores a launch
 * and carries it out (and undoes it); lifecycle.ts is the state machine the unit manager's events and the API's calls
 * drive; queries.ts reads; reconcile.ts brings the database and the host in line after a restart. Their VPC plumbing
 * is the VPC plane's (../vpc-plane.ts). This facade is what the API and the cloud call.
 */
import { count } from 'drizzle-orm';
import { instances } from '../../db/tables.js';
import { type InstanceAttributes, type MetadataOptions } from '../../db/schema.js';
import type { InstanceType } from '../catalog.js';
import type { Image, RegisterRequest } from '../images.js';
import { LaunchTemplates } from '../launch-templates.js';
import { InstanceContext, type InstanceDeps } from './context.js';
import { Launcher } from './launch.js';
import { Lifecycle } from './lifecycle.js';
import { Queries, type InstanceStatus } from './queries.js';
import { Reconciler, type ReconcileOptions, type ReconcileStats } from './reconcile.js';
import type { DescribeQuery, Instance, PageFacts, RunParams, RunResult, StateChange } from './types.js';

export type { InstanceDeps } from './context.js';
export { instanceHealth, type HealthStatus, type InstanceHealth } from './health.js';
export type { InstanceStatus } from './queries.js';
export { checkMetadataOptions, decodeUserData, defaultMetadataOptions } from './params.js';
export { ec2Time, stateCodes, type DescribeQuery, type Instance, type InstanceState, type PageFacts, type RunParams, type RunResult, type StateChange } from './types.js';

export class Instances {
  private readonly ctx: InstanceContext;
  private readonly queries: Queries;
  private readonly launcher: Launcher;
  private readonly lifecycle: Lifecycle;
  private readonly reconciler: Reconciler;
  /** Launch templates: what RunInstances with a LaunchTemplate merges its parameters over. */
  readonly templates: LaunchTemplates;

  constructor(deps: InstanceDeps) {
    this.ctx = new InstanceContext(deps);
    this.templates = new LaunchTemplates(deps.db, deps.tags);
    this.queries = new Queries(this.ctx);
    this.launcher = new Launcher(this.ctx);
    this.lifecycle = new Lifecycle(this.ctx, this.queries, this.launcher);
    this.reconciler = new Reconciler(this.ctx, this.lifecycle, this.launcher);
  }

  /** Follow the unit manager: readiness and unexpected ends of instance units. */
  listen(): void {
    this.lifecycle.listen();
  }

  /** Stop following the units, and cancel the launches still queued or under way (a restart launches them again). */
  close(): void {
    this.lifecycle.close();
    this.launcher.close();
  }

  /** Wait until every transition under way has finished (tests, shutdown). */
  idle(): Promise<void> {
    return this.ctx.idle();
  }

  // ---------------------------------------------------------------- launch and lifecycle

  /** RunInstances; with a LaunchTemplate, its version's data under the request's own parameters. */
  async run(accountId: string, p: RunParams, dryRun = false): Promise<RunResult> {
    if (p.launchTemplate) {
      const { id, name, version } = p.launchTemplate;
      const { params, from } = await this.templates.resolve(accountId, { id, name }, version, p);
      return await this.launcher.run(accountId, { ...params, fromTemplate: from }, dryRun);
    }
    return await this.launcher.run(accountId, p, dryRun);
  }

  async terminate(accountId: string, ids: string[]): Promise<StateChange[]> {
    return await this.lifecycle.terminate(accountId, ids);
  }

  async stop(accountId: string, ids: string[], force = false): Promise<StateChange[]> {
    return await this.lifecycle.stop(accountId, ids, force);
  }

  async start(accountId: string, ids: string[]): Promise<StateChange[]> {
    return await this.lifecycle.start(accountId, ids);
  }

  /** A VM a console opens (a fat lambda): started if it is stopped; resolves once it runs. */
  ensureRunning(accountId: string, id: string, timeoutMs?: number): Promise<void> {
    return this.lifecycle.ensureRunning(accountId, id, timeoutMs);
  }

  async reboot(accountId: string, ids: string[]): Promise<void> {
    await this.lifecycle.reboot(accountId, ids);
  }

  /** RebootInstances another server was asked for, of an instance of this host's (told by the database). */
  rebootTold(id: string): Promise<void> {
    return this.lifecycle.rebootTold(id);
  }

  // ---------------------------------------------------------------- reads and attributes

  /** How many instances there are in each state and runtime, every account's (those DescribeInstances lists). */
  async tally(): Promise<{ state: string; runtime: string; count: number }[]> {
    return await this.ctx.db.select({ state: instances.state, runtime: instances.runtime, count: count() }).from(instances)
      .groupBy(instances.state, instances.runtime);
  }

  /** The instance's record, whatever its account (internal callers). */
  async row(id: string): Promise<Instance | undefined> {
    return await this.ctx.row(id);
  }

  async get(accountId: string, id: string): Promise<Instance> {
    return await this.queries.get(accountId, id);
  }

  /** The instances named, all of them, or InvalidInstanceID.Malformed/NotFound. */
  async getMany(accountId: string, ids: string[]): Promise<Instance[]> {
    return await this.queries.getMany(accountId, ids);
  }

  /** A page of DescribeInstances; with `facts`, what it shows beside the rows, read with them (PageFacts). */
  async describe(accountId: string, q: DescribeQuery): Promise<{ instances: Instance[]; nextToken?: string }>;
  async describe(accountId: string, q: DescribeQuery, opts: { facts: true }): Promise<{ instances: Instance[]; nextToken?: string; facts?: PageFacts }>;
  async describe(accountId: string, q: DescribeQuery, opts?: { facts: true }): Promise<{ instances: Instance[]; nextToken?: string; facts?: PageFacts }> {
    return opts ? await this.queries.describe(accountId, q, opts) : await this.queries.describe(accountId, q);
  }

  /** DescribeInstanceStatus: the instances and their health (health.ts). */
  statuses(accountId: string, q: DescribeQuery, includeAll: boolean): Promise<{ statuses: InstanceStatus[]; nextToken?: string }> {
    return this.queries.statuses(accountId, q, includeAll);
  }

  instanceType(inst: Instance): InstanceType {
    return this.queries.instanceType(inst);
  }

  consoleOutput(accountId: string, id: string): Promise<Buffer> {
    return this.queries.consoleOutput(accountId, id);
  }

  /** CreateImage: the instance's disk as a new private image of its account. */
  createImage(accountId: string, id: string, name: string, description: string): Promise<string> {
    return this.queries.createImage(accountId, id, name, description);
  }

  /** RegisterImage: an image of the account's own from a snapshot (of a VM's root volume, or booted by UEFI firmware). */
  registerImage(accountId: string, req: RegisterRequest): Promise<Image> {
    return this.queries.registerImage(accountId, req);
  }

  /** ModifyInstanceMetadataOptions: the record, then the hop limit on the host (it is the TTL of the service's answers). */
  modifyMetadataOptions(accountId: string, id: string, opts: Partial<MetadataOptions>): Promise<MetadataOptions> {
    return this.queries.modifyMetadataOptions(accountId, id, opts);
  }

  async modifyAttributes(accountId: string, id: string, changes: Partial<InstanceAttributes> & { instanceType?: string; userData?: string }): Promise<void> {
    await this.queries.modifyAttributes(accountId, id, changes);
  }

  // ---------------------------------------------------------------- reconcile

  /** Bring the database and the host back in line after a restart or a crash. */
  reconcile(opts: ReconcileOptions = {}): Promise<ReconcileStats> {
    return this.reconciler.reconcile(opts);
  }

  /** Take up what the database asks of this host's instances (launches, stops, terminations told by another server). */
  converge(hostId: string): Promise<number> {
    return this.reconciler.converge(hostId);
  }

  /** Forget terminated instances older than the TTL (AWS keeps them visible for about an hour). */
  async sweep(): Promise<number> {
    return await this.reconciler.sweep();
  }
}
