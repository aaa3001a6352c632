/**
 * The dashboard's state, as JSON for its page: what the session's identity may see of its account, each part
 * authorized as the API authorizes it (root always may; a user or role session by its policies): instances with
 * ec2:DescribeInstances (their checks with ec2:DescribeInstanceStatus), functions with lambda:ListFunctions. Hosts and
 * the storage pool are the operator's: shown to the operator account's root only (dashboard.ts' isOperator). A part
 * that is not shown says why, and holds nothing.
 */
import type { Cloud } from '../../cloud/index.js';
import type { DashboardFunction, DashboardInstance } from '../../cloud/dashboard.js';
import type { HostView } from '../../cloud/hosts/view.js';
import { arnOf } from '../../cloud/iam/identity.js';
import { log } from '../../log.js';
import { poolSource } from '../../metrics/pool.js';
import type { Principal } from '../auth/sigv4.js';
import { originContext, type Origin } from '../auth/origin.js';

type Part<T> = { shown: true } & T | { shown: false; reason: string };

export interface DashboardState {
  account: string;
  principal: string;
  /** When the server read it (ms since the epoch). */
  at: number;
  instances: Part<{ items: DashboardInstance[]; more: boolean; checks: boolean }>;
  functions: Part<{ items: DashboardFunction[] }>;
  hosts: Part<{ items: HostView[] }>;
  pool: Part<{ sizeBytes: number; freeBytes: number } | { unknown: true }>;
}

/** May the principal do `action` (on `*`, as Describe and List actions are authorized)? */
async function may(cloud: Cloud, principal: Principal, origin: Origin, action: string): Promise<boolean> {
  if (principal.identity.kind === 'root') return true;
  const context = originContext(principal, origin);
  if (action.startsWith('ec2:')) context.set('ec2:Region', principal.region);
  return (await cloud.iam.authorize(principal.identity, { action, resources: [{ arn: '*' }], context })).allowed;
}

const denied = (action: string) => ({ shown: false as const, reason: `Not shown: your identity may not ${action}.` });
const OPERATOR_ONLY = { shown: false as const, reason: "Not shown: hosts and the storage pool are the operator account's root's to see." };

export async function dashboardState(cloud: Cloud, principal: Principal, origin: Origin): Promise<DashboardState> {
  const { accountId } = principal;
  const [instancesOk, checksOk, functionsOk, operator] = await Promise.all([
    may(cloud, principal, origin, 'ec2:DescribeInstances'), may(cloud, principal, origin, 'ec2:DescribeInstanceStatus'),
    may(cloud, principal, origin, 'lambda:ListFunctions'),
    principal.identity.kind === 'root' ? cloud.dashboard.isOperator(accountId) : Promise.resolve(false),
  ]);
  const instances: DashboardState['instances'] = instancesOk ? await (async () => {
    const read = await cloud.dashboard.instances(accountId);
    const items = checksOk ? read.instances : read.instances.map((i) => ({ ...i, system: null, status: null }));
    return { shown: true as const, items, more: read.more, checks: checksOk };
  })() : denied('ec2:DescribeInstances');
  const functions: DashboardState['functions'] = functionsOk ? { shown: true, items: await cloud.dashboard.functions(accountId) } : denied('lambda:ListFunctions');
  let hosts: DashboardState['hosts'] = OPERATOR_ONLY;
  let pool: DashboardState['pool'] = OPERATOR_ONLY;
  if (operator) {
    hosts = { shown: true, items: await cloud.dashboard.hosts() };
    try {
      pool = { shown: true, ...(await poolSource(cloud.dataDir)()) };
    } catch (err) {
      log.debug(`dashboard: the pool's size could not be read: ${(err as Error).message}`);
      pool = { shown: true, unknown: true };
    }
  }
  return { account: accountId, principal: arnOf(principal.identity), at: Date.now(), instances, functions, hosts, pool };
}
