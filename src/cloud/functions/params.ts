/**
 * What a function's request may hold, refused in Lambda's words: its configuration (runtime, role, handler, sizes, the
 * environment a process can be given) and FunctionName in its forms (name, partial ARN, ARN, with a qualifier).
 */
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import { isId } from '../ids.js';
import { CONSOLE_ENV, CONSOLE_IDLE_ENV, ENVIRONMENT_MAX, RUNTIMES, ZIP_MAX, ZIP_REQUEST_MAX, invalid, type FunctionInput } from './types.js';

/**
 * FunctionName as Lambda takes it: a name, a partial ARN (ACCOUNT:function:NAME) or an ARN, each with an optional
 * qualifier (`:$LATEST`, `:3`). Every part is a fixed character class that cannot contain the next separator: linear.
 */
const FUNCTION_REF = /^(?:arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):)?(?:(\d{12}):)?(?:function:)?([a-zA-Z0-9_-]+)(?::(\$LATEST|[a-zA-Z0-9_-]+))?$/;
const FUNCTION_REF_PATTERN = '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?';
/** FunctionName's longest form (an ARN with a qualifier), as Lambda's API bounds it. */
const FUNCTION_REF_MAX = 170;
const QUALIFIER = /^[a-zA-Z0-9$_-]{1,128}$/;

export function check(input: FunctionInput, creating: boolean): void {
  if (creating || input.runtime !== undefined) {
    if (!input.runtime || !(RUNTIMES as readonly string[]).includes(input.runtime)) {
      throw invalid(`Value ${input.runtime ?? 'null'} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [${RUNTIMES.join(', ')}] or be a valid ARN`);
    }
  }
  if (creating && !input.role) throw new CloudError('ValidationException', "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null");
  if (input.role !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/.test(input.role)) {
    throw new CloudError('ValidationException', `1 validation error detected: Value '${input.role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+`);
  }
  if (creating && !input.handler && input.runtime !== 'provided.al2023') throw invalid('Handler is required for a function whose package type is Zip.');
  // A handler is an argument of the runtime's command: no whitespace, and no control character (NUL ends an argument).
  if (input.handler !== undefined && !/^[^\s\x00-\x1f\x7f]{1,128}$/.test(input.handler)) throw new CloudError('ValidationException', `Value '${input.handler}' at 'handler' failed to satisfy constraint`);
  if (input.memoryMiB !== undefined && (!Number.isInteger(input.memoryMiB) || input.memoryMiB < 128 || input.memoryMiB > 10240)) {
    throw new CloudError('ValidationException', `1 validation error detected: Value '${input.memoryMiB}' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240`);
  }
  if (input.timeoutSec !== undefined && (!Number.isInteger(input.timeoutSec) || input.timeoutSec < 1 || input.timeoutSec > 900)) {
    throw new CloudError('ValidationException', `1 validation error detected: Value '${input.timeoutSec}' at 'timeout' failed to satisfy constraint: Member must have value between 1 and 900`);
  }
  for (const k of Object.keys(input.environment ?? {})) {
    if (!/^[a-zA-Z]([a-zA-Z0-9_])+$/.test(k)) throw invalid(`Environment variable name ${k} is invalid`);
    if (/^(AWS_|LAMBDA_|_HANDLER$)/.test(k)) throw invalid(`Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${k}`);
  }
  if (input.description?.includes('\0')) throw invalid('The description must not contain NUL characters.');
  if (input.description !== undefined && input.description.length > 256) {
    throw new CloudError('ValidationException', "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256");
  }
  if (input.environment !== undefined) checkEnvironment(input.environment);
  if (input.mode !== undefined && input.mode !== 'per-request' && input.mode !== 'warm') throw invalid(`The pcloud:invoke-mode tag is per-request or warm, not ${input.mode}`);
}

/**
 * What a process can be given: strings without NUL (execve ends a variable there) or unpaired surrogates (no UTF-8 for
 * them), 4 KB in all as Lambda measures it; and a console function's instance and idle time in their forms.
 */
export function checkEnvironment(env: Record<string, string>): void {
  const unable = 'Lambda was unable to configure your environment variables because';
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== 'string') throw invalid(`${unable} the value of ${k} is not a string.`);
    if (v.includes('\0') || /\p{Cs}/u.test(v)) throw invalid(`${unable} the value of ${k} holds a character no process environment can carry (NUL, or an unpaired surrogate).`);
  }
  const measured = JSON.stringify(env);
  const bytes = Buffer.byteLength(measured);
  if (bytes > ENVIRONMENT_MAX) {
    const shown = measured.length > ENVIRONMENT_MAX ? `${measured.slice(0, ENVIRONMENT_MAX)}... (${bytes} bytes)` : measured;
    throw invalid(`${unable} the environment variables you have provided exceeded the 4KB limit. String measured: ${shown}`);
  }
  if (Object.hasOwn(env, CONSOLE_ENV) && !isId('i', env[CONSOLE_ENV]!)) throw invalid(`${CONSOLE_ENV} names an instance (i-...), not '${env[CONSOLE_ENV]}'.`);
  if (Object.hasOwn(env, CONSOLE_IDLE_ENV) && !/^[1-9]\d{0,5}$/.test(env[CONSOLE_IDLE_ENV]!)) {
    throw invalid(`${CONSOLE_IDLE_ENV} is a whole number of seconds from 1 to 999999, not '${env[CONSOLE_IDLE_ENV]}'.`);
  }
}

/** A package inline past Lambda's 50 MB: refused as Lambda refuses the request that carries it. */
export function checkZipSize(zip: Buffer, operation: string): void {
  if (zip.length > ZIP_MAX) throw new CloudError('RequestEntityTooLargeException', `Request must be smaller than ${ZIP_REQUEST_MAX} bytes for the ${operation} operation`);
}

/** Functions' ARNs in this region, and FunctionName in its forms resolved to a function of the caller's account. */
export class FunctionNames {
  constructor(private readonly config: Pick<CloudConfig, 'region'>) {}

  private get region(): string {
    return this.config.region;
  }

  arn(accountId: string, name: string, version?: string): string {
    return `arn:aws:lambda:${this.region}:${accountId}:function:${name}${version ? `:${version}` : ''}`;
  }

  /**
   * FunctionName in any of its forms to the function's name and qualifier (a qualifier given apart must agree). An ARN
   * of another account is refused, one of another region is not found here.
   */
  parse(accountId: string, ref: string, qualifier?: string): { name: string; qualifier?: string } {
    const r = this.resolve(accountId, ref);
    if (qualifier !== undefined && !QUALIFIER.test(qualifier)) {
      throw new CloudError('ValidationException', `1 validation error detected: Value '${qualifier.slice(0, 200)}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)`);
    }
    if (r.qualifier && qualifier && r.qualifier !== qualifier) throw invalid('The derived qualifier from the function name does not match the specified qualifier.');
    // No function has a longer name: not one of them.
    if (r.name.length > 64) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.arn(accountId, r.name)}`);
    return { name: r.name, qualifier: r.qualifier ?? qualifier };
  }

  /** The account a FunctionName names (an ARN's or partial ARN's; the caller's otherwise). */
  owner(caller: string, ref: string): string {
    const m = ref.length <= FUNCTION_REF_MAX ? FUNCTION_REF.exec(ref) : null;
    return m?.[2] ?? caller;
  }

  /** CreateFunction's FunctionName: a name, or an ARN of this account and region without a qualifier. */
  forCreate(accountId: string, ref: string): string {
    const r = this.resolve(accountId, ref);
    if (r.qualifier !== undefined) throw this.badRef(ref);
    if (r.name.length > 64) throw invalid(`1 validation error detected: Value '${r.name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64`);
    return r.name;
  }

  private resolve(accountId: string, ref: string): { name: string; qualifier?: string } {
    const m = ref.length <= FUNCTION_REF_MAX ? FUNCTION_REF.exec(ref) : null;
    if (!m) throw this.badRef(ref);
    const [, region, account, name, qualifier] = m;
    if (account !== undefined && account !== accountId) throw new CloudError('AccessDeniedException', `User is not authorized to access ${ref}`);
    if (region !== undefined && region !== this.region) {
      throw new CloudError('ResourceNotFoundException', `Functions from '${region}' are not reachable in this region ('${this.region}')`);
    }
    return { name: name!, qualifier };
  }

  private badRef(ref: string): CloudError {
    const shown = ref.length > FUNCTION_REF_MAX ? `${ref.slice(0, FUNCTION_REF_MAX)}...` : ref;
    return new CloudError('ValidationException', `1 validation error detected: Value '${shown}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_REF_PATTERN}`);
  }
}
