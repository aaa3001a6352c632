/**
 * Instance consoles: the display of a q35 VM, which a browser reaches over a websocket, and its screenshots. Who may
 * open one is decided here: the page is a SigV4-authenticated request of the instance's account, and the page's
 * websocket carries a console token issued to that account and instance for a short while (browsers cannot sign
 * websocket requests). The display itself (its VNC socket, its screendump) is the host's VM control's, through Vms.
 */
import { CloudError } from './errors.js';
import type { Instances } from './instances/index.js';
import type { SigningKeys } from './signing-keys.js';
import { SignedTokens } from './tokens.js';
import type { Vms } from './vms.js';

const TOKEN_TTL_SEC = 120;

export class Consoles {
  private readonly tokens: SignedTokens;

  constructor(private readonly instances: Instances, private readonly vms: Vms, keys: SigningKeys) {
    this.tokens = new SignedTokens(keys, 'console-token');
  }

  /** The VNC socket of an instance of this account that has a display, or the EC2 error why not. */
  async display(accountId: string, instanceId: string): Promise<string> {
    const inst = await this.instances.get(accountId, instanceId);
    if (inst.runtime !== 'q35') {
      throw new CloudError('UnsupportedOperation', `The instance '${instanceId}' has no display: only UEFI and Windows VMs (q35) have one; use GetConsoleOutput for its serial console.`);
    }
    if (inst.state !== 'running') throw new CloudError('IncorrectInstanceState', `The instance '${instanceId}' is not running (${inst.state}).`);
    return this.vms.vncPath(instanceId);
  }

  /** A token the console page's websocket presents, for this account's instance. */
  async issue(accountId: string, instanceId: string): Promise<string> {
    await this.display(accountId, instanceId);
    return await this.tokens.issue(`${accountId}/${instanceId}`, TOKEN_TTL_SEC);
  }

  /** The account a token was issued to for this instance, if it is still valid. */
  async check(token: string, instanceId: string): Promise<string | undefined> {
    const body = token.split('.')[0] ?? '';
    let subject: string | undefined;
    try {
      subject = (JSON.parse(Buffer.from(body, 'base64url').toString()) as { i?: string }).i;
    } catch {
      return undefined;
    }
    const [accountId, id] = (subject ?? '').split('/');
    if (!accountId || id !== instanceId || !(await this.tokens.check(subject!, token))) return undefined;
    return accountId;
  }

  /** GetConsoleScreenshot: the display of this account's running q35 VM, as a JPEG. */
  async screenshot(accountId: string, instanceId: string): Promise<Buffer> {
    await this.display(accountId, instanceId);
    return this.vms.screenshot(instanceId);
  }
}
