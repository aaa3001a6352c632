/**
 * Invoking a function version: its unit (a socket unit per version, src/host/functions.ts) started on first use, the
 * payload limits and the account's concurrency checked, the answer in Lambda's terms. Per-request functions start a
 * process per invoke; warm ones keep one worker until it has been idle.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FunctionUnitOptions, HostFunctions, InvokeResult, RelayRequest } from '../../host/index.js';
import { log } from '../../log.js';
import { MemorySlots, type Release, type Slots } from '../../db/slots.js';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import { hostText } from '../errors/host.js';
import { pickVersion } from './aliases.js';
import type { FunctionCredentials } from './credentials.js';
import type { FatLambdas } from './fat-lambda.js';
import { ReservedConcurrencyExceeded } from './concurrency.js';
import { INVOKE, type FunctionPolicies } from './policy.js';
import type { FunctionPackages } from './packages.js';
import type { FunctionRecords } from './records.js';
import type { InvocationStats } from './invocation-stats.js';
import { ASYNC_PAYLOAD_MAX, CONSOLE_ENV, SYNC_PAYLOAD_MAX, functionKey, invalid, type FunctionView } from './types.js';

export type InvokeAnswer = InvokeResult & { version: string };

/** A function URL's answer as the function gave it (relayUrl), read whole. */
export interface UrlAnswer {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

/** The runtime's word that an answer was its first (a cold start): for the report, not for the client. */
const COLD_START = 'x-pcloud-cold-start';

/** A function URL's answer past Lambda's 6 MB: not sent (the client is answered 502, as Lambda answers it). */
class FunctionAnswerTooLarge extends Error {
  constructor() {
    super(`the function's answer is over ${SYNC_PAYLOAD_MAX} bytes`);
  }
}

/** A stream read whole, up to `max` bytes (undefined past them: the rest not read, the stream destroyed). */
async function readAtMost(stream: Readable, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) {
      stream.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

export class Invocations {
  /** The pcloud API as functions reach it (their AWS_ENDPOINT_URL), once `serve` says where it listens. */
  endpoint?: string;
  /** pcloud's nginx's port (function URLs), once it runs. */
  nginxPort?: number;

  constructor(
    private readonly records: FunctionRecords,
    private readonly host: HostFunctions,
    private readonly config: CloudConfig,
    private readonly fat: FatLambdas,
    private readonly policies: FunctionPolicies,
    private readonly credentials: FunctionCredentials,
    private readonly stats: InvocationStats,
    private readonly packages: FunctionPackages,
    /** Functions' reserved concurrency, held across every server on the database. */
    private readonly slots: Slots,
  ) {}

  /**
   * How a function version's unit runs (its role's credentials current: renewed when they near their end). `reserved`:
   * the function's reserved concurrency where the caller has just read it (read here otherwise).
   */
  async unitOptions(v: FunctionView, reserved?: number | null): Promise<FunctionUnitOptions> {
    const reservedConcurrency = reserved === undefined ? (await this.records.row(v.accountId, v.name)).reservedConcurrency : reserved;
    const key = functionKey(v.accountId, v.name, v.version);
    const served = v.version === '$LATEST' ? this.fat.consoleOf(v) : undefined;
    return {
      console: served,
      ...(served ? {} : { credentials: await this.credentials.for(key, v) }),
      ...(this.endpoint ? { endpoint: this.endpoint } : {}),
      ...(this.nginxPort ? { nginxPort: this.nginxPort } : {}),
      key, functionName: v.name, version: v.version, arn: v.arn, runtime: v.runtime,
      handler: v.handler, codeDir: this.host.codeDir(v.accountId, v.name, v.revision), memoryMiB: v.memoryMiB, timeoutSec: v.timeoutSec,
      environment: v.environment, mode: v.mode, idleSec: this.config.lambdaIdleSec, region: this.config.region,
      reservedConcurrency: reservedConcurrency ?? undefined,
      ...(v.layers?.length ? { layers: v.layers.map((l) => l.digest) } : {}),
    };
  }

  /**
   * The function version's unit running (started on first use), its code and layers on this host first (taken from
   * the state database where another host's API unpacked them: packages.ts); resolves to how it runs.
   */
  async ready(v: FunctionView, reserved?: number | null): Promise<FunctionUnitOptions> {
    await this.packages.present(v);
    const o = await this.unitOptions(v, reserved);
    await this.host.ensure(o);
    return o;
  }

  /** The function version's socket, its unit running: what nginx and invokes connect to. */
  private async socketFor(v: FunctionView, reserved?: number | null): Promise<string> {
    return this.host.socketPath((await this.ready(v, reserved)).key);
  }

  /**
   * Invocations running through this server's API, per account (nginx counts its own: limit_conn,
   * nginx/function-invoke.conf).
   */
  private readonly running = new MemorySlots();

  /**
   * One more invocation of the function, within its reserved concurrency if it has one (a slot held across every server
   * on the database: db/slots.ts), and of the account, within its ConcurrentExecutions (counted by this server); else
   * TooManyRequestsException, as Lambda throttles. Resolves to what ends it (once, however often it is called): it
   * resolves once its slot is free on every server, so an invocation answered after it finds it free on any of them.
   */
  private async executing(accountId: string, name: string, reserved: number | null): Promise<Release> {
    const slot = reserved === null ? undefined : await this.slots.take(`${accountId}/${name}`, reserved);
    if (reserved !== null && !slot) throw new ReservedConcurrencyExceeded();
    const counted = await this.running.take(accountId, this.config.limits.concurrentExecutions);
    if (!counted) {
      await slot?.();
      throw new CloudError('TooManyRequestsException', 'Rate Exceeded.');
    }
    return async () => {
      await Promise.all([slot?.(), counted()]);
    };
  }

  /**
   * The function version an invocation runs, in the function's account (an ARN of another account: only where its
   * resource policy allows the caller lambda:InvokeFunction, AccessDeniedException as Lambda words it otherwise); an
   * alias runs its version, or its routing config's with that weight's chance.
   */
  async target(caller: string, ref: string, qualifier: string | undefined): Promise<FunctionView> {
    const owner = this.records.names.owner(caller, ref);
    const q = this.records.names.parse(owner, ref, qualifier);
    // Refused the same whether the function exists or not: another account learns nothing of what it may not invoke.
    if (owner !== caller && !(await this.policies.allows(owner, q.name, q.qualifier ?? '', caller, INVOKE))) {
      const arn = this.records.names.arn(owner, q.name, q.qualifier);
      throw new CloudError('AccessDeniedException', `User: arn:aws:iam::${caller}:root is not authorized to perform: ${INVOKE} on resource: ${arn} because no resource-based policy allows the ${INVOKE} action`);
    }
    const alias = await this.records.alias(owner, q.name, q.qualifier);
    return await this.records.get(owner, q.name, alias ? pickVersion(alias) : q.qualifier);
  }

  /**
   * Where nginx sends a signed Invoke (src/api/lambda authorizeForNginx): the socket of the function the signer's
   * account names ($LATEST), or undefined for pcloud's API to answer it: a published version (the API runs it), a
   * console function, or anything the API refuses (a name the account does not have, another account's ARN, a bad
   * name), so nginx answers each as the API does, whatever other accounts hold.
   */
  async invokeSocket(accountId: string, ref: string, qualifier: string | undefined): Promise<{ socket: string; name: string; mode: FunctionView['mode'] } | undefined> {
    let v: FunctionView;
    let named: string | undefined;
    try {
      v = await this.records.get(accountId, ref, qualifier);
      named = this.records.names.parse(accountId, ref, qualifier).qualifier;
    } catch (err) {
      if (err instanceof CloudError) return undefined;
      throw err;
    }
    // A qualifier (an alias may route between versions) and a function with reserved concurrency: counted by the API.
    if (v.version !== '$LATEST' || Object.hasOwn(v.environment, CONSOLE_ENV) || (named !== undefined && named !== '$LATEST')) return undefined;
    const reserved = (await this.records.row(accountId, v.name)).reservedConcurrency;
    if (reserved !== null) return undefined;
    return { socket: await this.socketFor(v, reserved), name: v.name, mode: v.mode };
  }

  /**
   * A function URL's request that pcloud's API counts (a function with reserved concurrency: nginx relays it here,
   * nginx/function-url-relayed.conf), counted as an Invoke is, across every server, then relayed to the version's
   * socket. Its answer is read whole (Lambda's 6 MB, as for a buffered URL's) before the slot is let go: a client that
   * reads slowly holds nothing. Reported as nginx's URL requests are (invocation-stats.ts). Throttled as Invoke is (429).
   */
  async relayUrl(v: FunctionView, req: RelayRequest): Promise<UrlAnswer> {
    const reserved = (await this.records.row(v.accountId, v.name)).reservedConcurrency;
    const done = await this.executing(v.accountId, v.name, reserved);
    try {
      const o = await this.ready(v, reserved);
      const started = performance.now();
      const answer = await this.host.relay(o.key, req, { timeoutSec: v.timeoutSec });
      const body = await readAtMost(answer.body, SYNC_PAYLOAD_MAX);
      const coldStart = answer.headers.some(([k, x]) => k.toLowerCase() === COLD_START && x === '1');
      this.stats.record({
        accountId: v.accountId, name: v.name, mode: v.mode, status: answer.status, seconds: (performance.now() - started) / 1000, coldStart, via: 'nginx',
      });
      if (body === undefined) throw new FunctionAnswerTooLarge();
      return { status: answer.status, headers: answer.headers.filter(([k]) => k.toLowerCase() !== COLD_START), body };
    } finally {
      await done();
    }
  }

  async invoke(accountId: string, ref: string, qualifier: string | undefined, payload: Buffer, opts: { type: string; tail: boolean }): Promise<InvokeAnswer | undefined> {
    const type = opts.type || 'RequestResponse';
    if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) throw invalid(`Invalid invocation type: ${type}`);
    const v = await this.target(accountId, ref, qualifier);
    const limit = type === 'Event' ? ASYNC_PAYLOAD_MAX : SYNC_PAYLOAD_MAX;
    if (payload.length > limit) {
      throw new CloudError('RequestTooLargeException', `Request must be smaller than ${limit} bytes for the ${type === 'Event' ? 'InvokeAsync' : 'InvokeFunction'} operation`);
    }
    if (payload.length) {
      try { JSON.parse(payload.toString()); } catch { throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: Could not parse payload into json'); }
    }
    if (v.environment[CONSOLE_ENV]) throw invalid(`The function '${v.name}' serves the console of ${v.environment[CONSOLE_ENV]}: open its function URL.`);
    if (type === 'DryRun') return undefined;
    // Counted from here until the handler has answered (an Event invoke too, running in the background).
    const reserved = (await this.records.row(v.accountId, v.name)).reservedConcurrency;
    const done = await this.executing(v.accountId, v.name, reserved);
    let call: Promise<InvokeResult>;
    try {
      const o = await this.ready(v, reserved);
      const started = performance.now();
      call = this.host.invoke(o.key, payload, { requestId: randomUUID(), tail: opts.tail, timeoutSec: v.timeoutSec });
      // Counted once answered (invocation-stats.ts): timed from the call on its socket to the answer.
      void call.then((r) => this.stats.record({
        accountId: v.accountId, name: v.name, mode: v.mode, status: r.status, seconds: (performance.now() - started) / 1000,
        coldStart: r.coldStart === true, via: 'api',
      }), () => undefined);
    } catch (err) {
      await done();
      throw err;
    }
    const ended = call.then(done, done);
    if (type === 'Event') {
      void call.catch((err) => log.warn(`async invoke of ${v.arn}: ${(err as Error).message}`));
      return undefined;
    }
    // Answered once its slot is let go of (on PostgreSQL, a round trip), so the caller's next invoke, through any
    // server, is not throttled by this one.
    let answer: InvokeResult;
    try {
      answer = await call;
    } finally {
      await ended;
    }
    const res = { ...answer, version: v.version };
    if (res.status !== 200) throw new CloudError('ServiceException', `The function's runtime answered ${res.status}: ${hostText(res.payload.toString())}`);
    if (res.payload.length > SYNC_PAYLOAD_MAX) {
      return { ...res, functionError: 'Unhandled', payload: Buffer.from(JSON.stringify({ errorMessage: `Response payload size (${res.payload.length} bytes) exceeded maximum allowed payload size (${SYNC_PAYLOAD_MAX} bytes).`, errorType: 'Function.ResponseSizeTooLarge' })) };
    }
    return res;
  }
}
