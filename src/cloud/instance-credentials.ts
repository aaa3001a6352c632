/**
 * An instance's role credentials, as the metadata service hands them out (iam/security-credentials/ROLE): a session of
 * its profile's role named after the instance, minted by STS, reused while it has more than a quarter of an hour left
 * and minted anew before (so Expiration moves forward, as EC2 rotates them), or at once when the profile's role
 * changed. When the association ends (disassociated, replaced, the instance gone) its sessions end too.
 */
import { KeyedQueue } from '../serial.js';
import type { Association, IamAssociations } from './iam-associations.js';

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** What instance credentials need of STS (cloud.iam.sessions). */
export interface RoleSessions {
  mint(req: { accountId: string; roleName: string; sessionName: string; durationSeconds: number; source?: string; service?: string }): Promise<RoleCredentials>;
  /** End every session minted for `source`. */
  endFor(accountId: string, source: string): Promise<number>;
}

/** How long an instance's session lasts (as EC2's: six hours), and how long before its end a new one is minted. */
export const SESSION_SECONDS = 6 * 3600;
export const RENEW_BEFORE_MS = 15 * 60_000;

export interface InstanceRoleCredentials {
  association: Association;
  roleName: string;
  credentials: RoleCredentials;
  /** When these credentials were minted (iam/security-credentials' LastUpdated). */
  lastUpdated: Date;
}

interface Held {
  associationId: string;
  roleName: string;
  credentials: RoleCredentials;
  lastUpdated: Date;
}

/** The service an instance's role must trust (its trust policy's Principal Service). */
export const EC2_SERVICE = 'ec2.amazonaws.com';

export const sourceOf = (instanceId: string) => `instance:${instanceId}`;

export class InstanceCredentials {
  private readonly held = new Map<string, Held>();
  /** Per instance, how many times its sessions were ended: a mint that an end overtook is ended too. */
  private readonly ends = new Map<string, number>();
  /** One lookup-and-mint per instance at a time (two metadata requests at once mint one session). */
  private readonly minting = new KeyedQueue();

  constructor(
    private readonly associations: IamAssociations,
    private readonly sessions: RoleSessions,
    private readonly clock: () => number = Date.now,
  ) {
    associations.onEnd((accountId, instanceId) => this.end(accountId, instanceId));
  }

  /** The instance's association and its profile's role now (if it has one), without minting anything. */
  async roleFor(instanceId: string): Promise<{ association: Association; roleName?: string } | undefined> {
    const association = await this.associations.ofInstance(instanceId);
    if (!association || association.state !== 'associated') return undefined;
    return { association, roleName: association.roleName };
  }

  /** The instance's role credentials: those it holds while they last long enough, else new ones. */
  for(instanceId: string): Promise<InstanceRoleCredentials | undefined> {
    return this.minting.run(instanceId, () => this.lookup(instanceId));
  }

  private async lookup(instanceId: string): Promise<InstanceRoleCredentials | undefined> {
    let ends = this.ends.get(instanceId) ?? 0;
    const association = await this.associations.ofInstance(instanceId);
    const roleName = association?.roleName;
    if (!association || roleName === undefined) return undefined;
    const now = this.clock();
    let held = this.held.get(instanceId);
    if (held && (held.associationId !== association.id || held.roleName !== roleName)) {
      // Another profile or another role: what the old one gave ends before the new one is handed out.
      await this.end(association.accountId, instanceId);
      ends = this.ends.get(instanceId) ?? 0;
      held = undefined;
    }
    if (!held || held.credentials.expiration.getTime() - now <= RENEW_BEFORE_MS) {
      const credentials = await this.sessions.mint({
        accountId: association.accountId, roleName, sessionName: instanceId, durationSeconds: SESSION_SECONDS, source: sourceOf(instanceId), service: EC2_SERVICE,
      });
      // The association ended while this session was minted (here, or through another server: it is no longer the
      // instance's association once minted): the session ends too, and nothing is handed out. An end after this
      // look ends the session itself.
      if ((this.ends.get(instanceId) ?? 0) !== ends || (await this.associations.ofInstance(instanceId))?.id !== association.id) {
        await this.sessions.endFor(association.accountId, sourceOf(instanceId));
        return undefined;
      }
      held = { associationId: association.id, roleName, credentials, lastUpdated: new Date(now) };
      this.held.set(instanceId, held);
    }
    return { association, roleName, credentials: held.credentials, lastUpdated: held.lastUpdated };
  }

  /** The instance's sessions end, and nothing is held for it. */
  async end(accountId: string, instanceId: string): Promise<void> {
    this.ends.set(instanceId, (this.ends.get(instanceId) ?? 0) + 1);
    this.held.delete(instanceId);
    await this.sessions.endFor(accountId, sourceOf(instanceId));
  }
}
