/**
 * Fat lambdas: a function whose environment names an instance serves that VM's console at its URL. Opening the URL
 * starts the VM; a console idle past its idle time stops it (the proxy has left by itself).
 */
import type { FatLambdaState } from '../../host/fat-lambda-state.js';
import type { HostFunctions } from '../../host/index.js';
import { log } from '../../log.js';
import { isId } from '../ids.js';
import type { FunctionRecords } from './records.js';
import { CONSOLE_ENV, CONSOLE_IDLE_ENV, functionKey, invalid, type ConsoleTargets } from './types.js';

/** The console a function serves, as its unit runs it. */
export interface ConsoleOf {
  instanceId: string;
  vncPath: string;
  idleSec: number;
  stateFile: string;
}

export class FatLambdas {
  constructor(
    private readonly records: FunctionRecords,
    private readonly host: Pick<HostFunctions, 'socketPath'>,
    private readonly state: FatLambdaState,
    private readonly targets: ConsoleTargets,
  ) {}

  /** The console a function ($LATEST) serves, if it is a fat lambda. */
  consoleOf(v: { accountId: string; name: string; environment: Record<string, string> }): ConsoleOf | undefined {
    const instanceId = Object.hasOwn(v.environment, CONSOLE_ENV) ? v.environment[CONSOLE_ENV] : undefined;
    if (!instanceId || !isId('i', instanceId)) return undefined;
    return {
      instanceId, vncPath: this.targets.vncPath(v.accountId, instanceId), idleSec: Number(Object.hasOwn(v.environment, CONSOLE_IDLE_ENV) ? v.environment[CONSOLE_IDLE_ENV] : 300) || 300,
      stateFile: this.state.fileFor(this.host.socketPath(functionKey(v.accountId, v.name, '$LATEST'))),
    };
  }

  /** A console function's instance must be the account's own. */
  async checkOwner(accountId: string, environment: Record<string, string> | undefined): Promise<void> {
    if (!environment || !Object.hasOwn(environment, CONSOLE_ENV)) return;
    const id = environment[CONSOLE_ENV]!;
    if (!(await this.targets.owns(accountId, id))) throw invalid(`${CONSOLE_ENV} names the instance '${id}', which does not exist in this account.`);
  }

  /**
   * A request reaches a function's URL (nginx asked pcloud): a fat lambda's VM is started first if it is stopped, and
   * the request goes on once it runs.
   */
  async opening(accountId: string, name: string): Promise<void> {
    const c = this.consoleOf(await this.records.row(accountId, name));
    if (!c) return;
    await this.targets.ensureRunning(accountId, c.instanceId);
    // Counted from now: the idle time starts when the VM is up, not at the last session.
    await this.state.opened(c.stateFile, Date.now());
  }

  /** Fat lambdas whose console has been idle past their idle time: their VM stops (the proxy has left by itself). */
  async sweep(now = Date.now()): Promise<void> {
    for (const r of (await this.records.servable())) {
      const c = this.consoleOf(r);
      if (!c) continue;
      const state = await this.state.read(c.stateFile);
      if (!state || state.connections > 0 || now - state.lastActive < c.idleSec * 1000) continue;
      await this.state.clear(c.stateFile);
      if ((await this.targets.isRunning(r.accountId, c.instanceId))) {
        log.info(`console of ${c.instanceId} (function ${r.name}) idle for ${c.idleSec} s: stopping the VM`);
        await this.targets.stop(r.accountId, c.instanceId);
      }
    }
  }
}
