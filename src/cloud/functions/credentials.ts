/**
 * A function's role credentials, as Lambda gives its processes: a session of the function version's role (session name
 * the function's name, source `function:NAME`), minted when a version's unit starts and renewed well before it
 * expires: the host writes them where only that version's processes read them (src/host/functions.ts), and a renewal
 * reaches running processes at their next invoke. A function deleted, or its role changed, ends its sessions.
 */
import type { HostFunctions, SessionCredentials } from '../../host/index.js';
import { log } from '../../log.js';
import { functionSource, parseRoleArn, type FunctionIdentity } from './roles.js';
import type { FunctionView } from './types.js';

/** How long a function's session lasts (a role's default MaxSessionDuration), and how long before its end it is renewed. */
export const SESSION_SECONDS = 3600;
export const RENEW_BEFORE_MS = 30 * 60 * 1000;
/** How often running versions' sessions are looked at (well inside RENEW_BEFORE_MS). */
export const RENEW_EVERY_MS = 5 * 60 * 1000;

interface Held {
  accountId: string;
  name: string;
  role: string;
  credentials: SessionCredentials;
}

export class FunctionCredentials {
  /** The session each function version's unit was given, by its unit key. */
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly identity: FunctionIdentity | undefined,
    private readonly host: Pick<HostFunctions, 'list' | 'renewCredentials'>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The credentials a version's unit runs with: the ones it holds while they have RENEW_BEFORE_MS left (and its role is
   * the same), a new session otherwise. None when pcloud has no IAM here or the role cannot be assumed any more (deleted
   * since): the function runs, its SDK calls unsigned.
   */
  async for(key: string, v: Pick<FunctionView, 'accountId' | 'name' | 'role'>): Promise<SessionCredentials | undefined> {
    const held = this.held.get(key);
    if (held && held.role === v.role && held.credentials.expiration.getTime() - this.now() > RENEW_BEFORE_MS) return held.credentials;
    const credentials = await this.mint(v);
    if (credentials) this.held.set(key, { accountId: v.accountId, name: v.name, role: v.role, credentials });
    else this.held.delete(key);
    return credentials;
  }

  private async mint(v: Pick<FunctionView, 'accountId' | 'name' | 'role'>): Promise<SessionCredentials | undefined> {
    const role = parseRoleArn(v.role);
    if (!this.identity || !role || role.accountId !== v.accountId) return undefined;
    try {
      return await this.identity.mint({ accountId: v.accountId, roleName: role.name, sessionName: v.name, durationSeconds: SESSION_SECONDS, source: functionSource(v.name) });
    } catch (err) {
      log.warn(`function ${v.accountId}/${v.name}: no credentials for its role ${v.role}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Every running version's session that nears its end renewed, written where its processes read it; versions whose
   * units are gone forgotten. Resolves to how many were renewed.
   */
  async renew(): Promise<number> {
    const running = new Set(await this.host.list());
    let renewed = 0;
    for (const [key, held] of [...this.held]) {
      if (!running.has(key)) {
        this.held.delete(key);
        continue;
      }
      if (held.credentials.expiration.getTime() - this.now() > RENEW_BEFORE_MS) continue;
      const next = await this.for(key, held);
      await this.host.renewCredentials?.(key, next);
      renewed++;
    }
    return renewed;
  }

  /**
   * The function's sessions ended (deleted, or its role changed): its versions' units still running keep theirs only
   * if `keep` says so (their role unchanged), with a session minted again, since ending them ended every one of the
   * function's.
   */
  async end(accountId: string, name: string, keep: (key: string) => boolean = () => false): Promise<void> {
    await this.identity?.endSessions(accountId, functionSource(name));
    for (const [key, held] of [...this.held]) {
      if (held.accountId !== accountId || held.name !== name) continue;
      this.held.delete(key);
      if (keep(key)) await this.host.renewCredentials?.(key, await this.for(key, held));
    }
  }
}
