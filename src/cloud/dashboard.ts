/**
 * The operator's dashboard, as the domain sees it: who has a session, and what the page shows them. A session begins
 * with a SigV4-presigned request (src/api/dashboard) and is a signed token naming the signer's access key, so every
 * later read finds the key again (a key deleted, deactivated or expired ends the session at once) and is authorized
 * as the key's identity. What is shown is read here: an account's instances with their state and health
 * (DescribeInstanceStatus' rule, instances/health.ts), its functions with the invocations this server has seen
 * (functions/invocation-stats.ts), and the hosts (hosts/view.ts). Nothing here writes.
 */
import type { Db } from '../db/index.js';
import type { AccessKey, Accounts } from './accounts.js';
import type { HostsConfig } from './config.js';
import type { Functions } from './functions/index.js';
import type { Iam } from './iam/index.js';
import type { HealthStatus } from './instances/health.js';
import type { Instances } from './instances/index.js';
import type { Tags } from './tags.js';
import { hostViews, type HostView } from './hosts/view.js';
import type { SigningKeys } from './signing-keys.js';
import { SignedTokens } from './tokens.js';

/** How long a dashboard session lasts (a temporary key's session ends with the key, whichever is first). */
export const SESSION_TTL_SEC = 12 * 3600;

/** The most instances one read shows (the rest are counted: `more`). */
export const MAX_INSTANCES = 1000;

/** An instance as the dashboard shows it to its account (overview.ts has the operator's view of every account). */
export interface DashboardInstance {
  id: string;
  /** Its Name tag, as the tenant wrote it (the page renders it as text). */
  name: string;
  type: string;
  runtime: string;
  state: string;
  /** The status checks of a running instance (DescribeInstanceStatus); null otherwise. */
  system: HealthStatus | null;
  status: HealthStatus | null;
  privateIp: string;
  publicIp: string | null;
  launchedAt: number;
  hostId: string | null;
  /** It has a display the console page shows (a running q35 VM). */
  console: boolean;
}

/** A function as the dashboard shows it, with the invocations this server has seen. */
export interface DashboardFunction {
  name: string;
  runtime: string;
  /** per-request (a process per invoke) or warm (a worker kept until idle). */
  mode: string;
  memoryMiB: number;
  /** Seen answered by this server since it started (Invoke through the API or nginx, function URLs). */
  invocations: number;
  coldStarts: number;
  lastInvokedAt: number | null;
}

/** What the dashboard reads: the domain's own pieces (the cloud's facade passes them). */
export interface DashboardSources {
  db: Db;
  hosts: HostsConfig;
  iam: Pick<Iam, 'findKey'>;
  accounts: Pick<Accounts, 'firstKey'>;
  instances: Pick<Instances, 'statuses'>;
  tags: Pick<Tags, 'of'>;
  functions: Pick<Functions, 'list' | 'invocationStats'>;
}

export class Dashboard {
  private readonly tokens: SignedTokens;

  constructor(private readonly from: DashboardSources, keys: SigningKeys) {
    this.tokens = new SignedTokens(keys, 'dashboard-session');
  }

  /** A session for the key that signed the login (its region: what ARNs are authorized in). */
  async open(accessKeyId: string, region: string): Promise<string> {
    return await this.tokens.issue(JSON.stringify([accessKeyId, region]), SESSION_TTL_SEC);
  }

  /** The key and region of a session that is still good: its token valid, its key still there and not expired. */
  async session(token: string, now = Date.now()): Promise<{ key: AccessKey; region: string } | undefined> {
    if (token.length > 4096) return undefined;
    let subject: unknown;
    try {
      subject = (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { i?: unknown }).i;
    } catch {
      return undefined;
    }
    if (typeof subject !== 'string' || !(await this.tokens.check(subject, token, now))) return undefined;
    let parts: unknown;
    try {
      parts = JSON.parse(subject);
    } catch {
      return undefined;
    }
    if (!Array.isArray(parts) || parts.length !== 2 || !parts.every((p) => typeof p === 'string')) return undefined;
    const [accessKeyId, region] = parts as [string, string];
    const key = await this.from.iam.findKey(accessKeyId);
    if (!key || (key.session && now >= key.session.expiresAt)) return undefined;
    return { key, region };
  }

  /** Whether the account is the operator's: the oldest active root key's (the one `pcloud credentials` prints). */
  async isOperator(accountId: string): Promise<boolean> {
    return (await this.from.accounts.firstKey())?.accountId === accountId;
  }

  /** The account's instances (as DescribeInstances lists them), with their checks and Name tags; and how many more. */
  async instances(accountId: string): Promise<{ instances: DashboardInstance[]; more: boolean }> {
    const page = await this.from.instances.statuses(accountId, { ids: [], filters: [], maxResults: MAX_INSTANCES }, true);
    const tags = await this.from.tags.of(page.statuses.map((s) => s.instance.id));
    const instances = page.statuses.map(({ instance: i, health }) => {
      const running = i.state === 'running';
      return {
        id: i.id, name: tags.get(i.id)?.find((t) => t.key === 'Name')?.value ?? '', type: i.instanceType, runtime: i.runtime, state: i.state,
        system: running ? health.system.status : null, status: running ? health.instance.status : null,
        privateIp: i.privateIp, publicIp: i.publicIp, launchedAt: i.launchTime, hostId: i.hostId, console: running && i.runtime === 'q35',
      };
    });
    return { instances, more: page.nextToken !== undefined };
  }

  /** The account's functions and the invocations this server has seen of each. */
  async functions(accountId: string): Promise<DashboardFunction[]> {
    const stats = this.from.functions.invocationStats;
    return (await this.from.functions.list(accountId)).map((f) => {
      const seen = stats.of(accountId, f.name);
      return {
        name: f.name, runtime: f.runtime, mode: f.mode, memoryMiB: f.memoryMiB,
        invocations: seen?.invocations ?? 0, coldStarts: seen?.coldStarts ?? 0, lastInvokedAt: seen?.lastAt ?? null,
      };
    });
  }

  /** Every host: capacity, what its instances hold, whether it is heard from. */
  async hosts(now = Date.now()): Promise<HostView[]> {
    return await hostViews(this.from.db, this.from.hosts, now);
  }
}
