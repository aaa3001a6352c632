/**
 * Lambda's function operations by the model's names (the router in index.ts finds them by method and path): each
 * maps its parameters to one call of the domain (src/cloud/functions) and its answer to JSON (shapes.ts).
 */
import type { Cloud } from '../../cloud/index.js';
import { ReservedConcurrencyExceeded } from '../../cloud/functions/index.js';
import { base64, parseBody } from './body.js';
import { input, pageRequest, tagList } from './params.js';
import { lambdaError } from './errors.js';
import { configShape, json, tagsShape, urlShape } from './shapes.js';

/** What an operation's handler gets: `p(label)` is a path label the model names (percent-decoded). */
export interface OpContext { cloud: Cloud; accountId: string; p: (label: string) => string; q: URLSearchParams; body: Buffer; headers: Headers }
export type Handler = (ctx: OpContext) => Promise<Response> | Response;
/** Handlers by the model's operation names. */
export type Operations = Record<string, Handler>;

const qualifier = (q: URLSearchParams) => q.get('Qualifier') ?? undefined;

export const functionOps: Operations = {
  CreateFunction: async ({ cloud, accountId, body }) => {
    const b = parseBody('CreateFunction', body);
    const v = await cloud.functions.create(accountId, b.FunctionName ?? '', input(b), base64(b.Code?.ZipFile, 'Code.ZipFile'), b.Publish ?? false, {
      tags: tagList(b.Tags), packageType: b.PackageType, imageUri: b.Code?.ImageUri, architectures: b.Architectures,
    });
    return json(configShape(v), 201);
  },
  ListFunctions: async ({ cloud, accountId, q }) => {
    const page = await cloud.functions.listPage(accountId, { ...pageRequest(q), all: q.get('FunctionVersion') === 'ALL' });
    return json({ Functions: page.items.map(configShape), NextMarker: page.nextToken });
  },
  GetFunction: async ({ cloud, accountId, p, q }) => {
    const v = await cloud.functions.get(accountId, p('FunctionName'), qualifier(q));
    const reserved = await cloud.functions.concurrency.get(accountId, v.name);
    return json({
      Configuration: configShape(v),
      Code: { RepositoryType: 'S3', Location: cloud.functions.codeLocation(v) },
      Tags: tagsShape(await cloud.functions.tagsOf(accountId, v.name)),
      Concurrency: reserved === undefined ? undefined : { ReservedConcurrentExecutions: reserved },
    });
  },
  DeleteFunction: async ({ cloud, accountId, p, q }) => {
    await cloud.functions.delete(accountId, p('FunctionName'), qualifier(q));
    return new Response(null, { status: 204 });
  },
  GetFunctionConfiguration: async ({ cloud, accountId, p, q }) =>
    json(configShape(await cloud.functions.get(accountId, p('FunctionName'), qualifier(q)))),
  UpdateFunctionConfiguration: async ({ cloud, accountId, p, body }) =>
    json(configShape(await cloud.functions.updateConfiguration(accountId, p('FunctionName'), input(parseBody('UpdateFunctionConfiguration', body))))),
  UpdateFunctionCode: async ({ cloud, accountId, p, body }) => {
    const b = parseBody('UpdateFunctionCode', body);
    return json(configShape(await cloud.functions.updateCode(accountId, p('FunctionName'), base64(b.ZipFile, 'ZipFile'), b.Publish ?? false)));
  },
  PublishVersion: async ({ cloud, accountId, p, body }) =>
    json(configShape(await cloud.functions.publish(accountId, p('FunctionName'), parseBody('PublishVersion', body).Description ?? '')), 201),
  ListVersionsByFunction: async ({ cloud, accountId, p, q }) => {
    const page = await cloud.functions.versionsPage(accountId, p('FunctionName'), pageRequest(q));
    return json({ Versions: page.items.map(configShape), NextMarker: page.nextToken });
  },
  GetFunctionCodeSigningConfig: async ({ cloud, accountId, p }) =>
    json({ FunctionName: (await cloud.functions.get(accountId, p('FunctionName'))).name }),
  Invoke: async ({ cloud, accountId, p, q, body, headers }) => {
    const type = headers.get('x-amz-invocation-type') ?? 'RequestResponse';
    let res;
    try {
      res = await cloud.functions.invoke(accountId, p('FunctionName'), qualifier(q), body, { type, tail: headers.get('x-amz-log-type') === 'Tail' });
    } catch (err) {
      // Past the function's reserved concurrency: Lambda says why (Reason).
      if (!(err instanceof ReservedConcurrencyExceeded)) throw err;
      return lambdaError(err.code, err.message, undefined, { Reason: err.reason, Type: 'User' });
    }
    if (!res) return new Response(null, { status: type === 'Event' ? 202 : 204 });
    const out: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-requestid': res.requestId, 'x-amz-executed-version': res.version };
    if (res.functionError) out['x-amz-function-error'] = res.functionError;
    if (res.log) out['x-amz-log-result'] = res.log;
    return new Response(new Uint8Array(res.payload), { status: 200, headers: out });
  },
  CreateFunctionUrlConfig: async ({ cloud, accountId, p, q, body }) =>
    json(urlShape(await cloud.functions.createUrl(accountId, p('FunctionName'), parseBody('CreateFunctionUrlConfig', body).AuthType, qualifier(q)), false), 201),
  GetFunctionUrlConfig: async ({ cloud, accountId, p, q }) =>
    json(urlShape(await cloud.functions.url(accountId, p('FunctionName'), qualifier(q)), true)),
  DeleteFunctionUrlConfig: async ({ cloud, accountId, p, q }) => {
    await cloud.functions.deleteUrl(accountId, p('FunctionName'), qualifier(q));
    return new Response(null, { status: 204 });
  },
  // GetAccountSettings: the account's Lambda limits and what it uses of them.
  GetAccountSettings: async ({ cloud, accountId }) => {
    const { limits: l, usage: u } = await cloud.functions.accountSettings(accountId);
    return json({
      AccountLimit: {
        TotalCodeSize: l.totalCodeSize, CodeSizeZipped: l.codeSizeZipped, CodeSizeUnzipped: l.codeSizeUnzipped,
        ConcurrentExecutions: l.concurrentExecutions, UnreservedConcurrentExecutions: l.unreservedConcurrentExecutions,
      },
      AccountUsage: { TotalCodeSize: u.totalCodeSize, FunctionCount: u.functionCount },
    });
  },
  ListTags: async ({ cloud, accountId, p }) => json({ Tags: tagsShape(await cloud.functions.tagsOf(accountId, p('ARN'))) }),
  TagResource: async ({ cloud, accountId, p, body }) => {
    await cloud.functions.tagsOf(accountId, p('ARN')); // a missing function is ResourceNotFoundException, whatever the body holds
    await cloud.functions.tag(accountId, p('ARN'), tagList(parseBody('TagResource', body).Tags));
    return new Response(null, { status: 204 });
  },
  UntagResource: async ({ cloud, accountId, p, q }) => {
    await cloud.functions.untag(accountId, p('ARN'), q.getAll('tagKeys'));
    return new Response(null, { status: 204 });
  },
};
