/**
 * The bottom of instances/: the types and tables every piece shares. The pieces import this file; it imports none of
 * them.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { instances } from '../../db/tables.js';
import { type MetadataOptions } from '../../db/schema.js';
import type { Filter } from '../filters.js';
import type { ProfileRef } from '../iam-associations.js';
import type { Tag } from '../tags.js';

export type Instance = typeof instances.$inferSelect;
export type InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

export const stateCodes: Record<InstanceState, number> = {
  pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80,
};

/** An instance's record by id, whatever its account (internal callers: the pieces of instances/ and the VPC plane). */
export async function instanceRow(db: Db, id: string): Promise<Instance | undefined> {
  return (await db.select().from(instances).where(eq(instances.id, id)).limit(1))[0];
}

/**
 * Whether an instance still holds what it was launched with (its root volume, network interface and private address):
 * every state but terminated (a terminated instance's record stays, listed, but holds nothing).
 */
export function holdsResources(i: Pick<Instance, 'state'>): boolean {
  return i.state !== 'terminated';
}

export interface RunParams {
  imageId?: string;
  instanceType?: string;
  minCount?: number;
  maxCount?: number;
  keyName?: string;
  userData?: string;
  clientToken?: string;
  subnetId?: string;
  availabilityZone?: string;
  privateIpAddress?: string;
  /** AssociatePublicIpAddress: overrides the subnet's MapPublicIpOnLaunch. */
  associatePublicIp?: boolean;
  securityGroupIds: string[];
  securityGroups: string[];
  tagSpecifications: { resourceType: string; tags: Tag[] }[];
  metadataOptions: Partial<MetadataOptions>;
  disableApiTermination?: boolean;
  disableApiStop?: boolean;
  instanceInitiatedShutdownBehavior?: string;
  ebsOptimized?: boolean;
  monitoring?: boolean;
  cpuCredits?: string;
  hibernation?: boolean;
  /** IamInstanceProfile: the instance profile (by ARN or name) whose role the instances' software gets credentials of. */
  iamInstanceProfile?: ProfileRef;
  /** LaunchTemplate: the template (by id or name) and version whose data the request's parameters are merged over. */
  launchTemplate?: { id?: string; name?: string; version?: string };
  /** The template and version the merge came from (set by the merge, not by the request). */
  fromTemplate?: { id: string; version: number };
}

export interface RunResult {
  reservationId: string;
  instances: Instance[];
}

export interface StateChange {
  instanceId: string;
  previous: InstanceState;
  current: InstanceState;
}

/** DescribeInstances' question: ids, filters, and a page. */
export interface DescribeQuery {
  ids: string[];
  filters: Filter[];
  maxResults?: number;
  nextToken?: string;
}

/**
 * What DescribeInstances shows of a page beside its rows, read in the rows' own query (Queries.describe with `facts`):
 * one round trip for a page, where a read per table would be four.
 */
export interface PageFacts {
  tags: Map<string, Tag[]>;
  /** Elastic IPs by instance id. */
  eips: Map<string, string>;
  /** The instances that have an IAM instance profile association (its details are read apart: few have one). */
  profiled: Set<string>;
}

/** An instance's unit (container or VM) is this prefix and its id; a q35 VM's TPM is TPM_PREFIX and its id. */
export const UNIT_PREFIX = 'pcloud-instance@';
export const TPM_PREFIX = 'pcloud-tpm@';

/** States counted against the account's limits: the instance holds (or is about to hold, or still holds) host resources. */
export const COUNTED: InstanceState[] = ['pending', 'running', 'stopping'];

/** Why a launch stopped early: its instance was terminated or stopped while it was queued or under way. */
export class LaunchCancelled extends Error {
  constructor(id: string) {
    super(`the launch of ${id} was cancelled`);
  }
}

/** A time as EC2 writes it in a StateTransitionReason. */
export function ec2Time(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' GMT');
}
