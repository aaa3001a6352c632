/** Lambda's answers as JSON: errors (errors.ts), FunctionConfiguration, URL configs, tags. */
import type { FunctionUrlView, FunctionView } from '../../cloud/functions/index.js';
import type { Tag } from '../../cloud/tags.js';

export { lambdaError } from './errors.js';

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export const timestamp = (t: number) => new Date(t).toISOString().replace('Z', '+0000');

/** FunctionConfiguration, as Lambda answers it. */
export function configShape(v: FunctionView) {
  return {
    FunctionName: v.name, FunctionArn: v.arn, Runtime: v.runtime, Role: v.role, Handler: v.handler, CodeSize: v.codeSize,
    Description: v.description, Timeout: v.timeoutSec, MemorySize: v.memoryMiB, LastModified: timestamp(v.lastModified),
    CodeSha256: v.codeSha256, Version: v.version,
    // AWS omits Environment when the function has no variables (after an update that removed them all too).
    Environment: Object.keys(v.environment).length ? { Variables: v.environment } : undefined, TracingConfig: { Mode: 'PassThrough' },
    RevisionId: v.revision, State: 'Active', LastUpdateStatus: 'Successful', PackageType: 'Zip', Architectures: ['x86_64'],
    EphemeralStorage: { Size: 512 }, SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
    LoggingConfig: { LogFormat: 'Text', LogGroup: `/aws/lambda/${v.name}` },
    // Omitted without layers, as Lambda does.
    Layers: v.layers?.length ? v.layers.map((l) => ({ Arn: l.arn, CodeSize: l.codeSize })) : undefined,
  };
}

/** Create/GetFunctionUrlConfig (Get adds LastModifiedTime: a URL config never changes here). */
export function urlShape(u: FunctionUrlView, modified: boolean) {
  return {
    FunctionUrl: u.url, FunctionArn: u.arn, AuthType: u.authType, CreationTime: timestamp(u.createdAt),
    ...(modified ? { LastModifiedTime: timestamp(u.createdAt) } : {}), InvokeMode: 'BUFFERED',
  };
}

/**
 * Tags as Lambda's JSON map: a record of own properties (Object.fromEntries defines them: `__proto__` is only ever a
 * key, never the prototype).
 */
export function tagsShape(tags: Tag[]): Record<string, string> {
  return Object.fromEntries(tags.map((t) => [t.key, t.value]));
}
