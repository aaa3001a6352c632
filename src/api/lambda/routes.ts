/**
 * Lambda's operations by method and path: each maps its parameters to one call of the domain (src/cloud/functions)
 * and its answer to JSON (shapes.ts).
 */
import type { Cloud } from '../../cloud/index.js';
import { base64, parseBody } from './body.js';
import { input, pageRequest, tagList } from './params.js';
import { configShape, json, tagsShape, urlShape } from './shapes.js';

export type Handler = (ctx: { cloud: Cloud; accountId: string; m: string[]; q: URLSearchParams; body: Buffer; headers: Headers }) => Promise<Response> | Response;

const qualifier = (q: URLSearchParams) => q.get('Qualifier') ?? undefined;

const F = '([^/]+)';
export const routes: [string, RegExp, Handler][] = [
  ['POST', /^\/2015-03-31\/functions\/?$/, async ({ cloud, accountId, body }) => {
    const b = parseBody('CreateFunction', body);
    const v = await cloud.functions.create(accountId, b.FunctionName ?? '', input(b), base64(b.Code?.ZipFile, 'Code.ZipFile'), b.Publish ?? false, {
      tags: tagList(b.Tags), packageType: b.PackageType, imageUri: b.Code?.ImageUri, architectures: b.Architectures,
    });
    return json(configShape(v), 201);
  }],
  ['GET', /^\/2015-03-31\/functions\/?$/, ({ cloud, accountId, q }) => {
    const page = cloud.functions.listPage(accountId, { ...pageRequest(q), all: q.get('FunctionVersion') === 'ALL' });
    return json({ Functions: page.items.map(configShape), NextMarker: page.nextToken });
  }],
  ['GET', new RegExp(`^/2015-03-31/functions/${F}/?$`), ({ cloud, accountId, m, q }) => {
    const v = cloud.functions.get(accountId, m[1]!, qualifier(q));
    return json({
      Configuration: configShape(v),
      Code: { RepositoryType: 'S3', Location: cloud.functions.codeLocation(v) },
      Tags: tagsShape(cloud.functions.tagsOf(accountId, v.name)),
    });
  }],
  ['DELETE', new RegExp(`^/2015-03-31/functions/${F}/?$`), async ({ cloud, accountId, m, q }) => {
    await cloud.functions.delete(accountId, m[1]!, qualifier(q));
    return new Response(null, { status: 204 });
  }],
  ['GET', new RegExp(`^/2015-03-31/functions/${F}/configuration/?$`), ({ cloud, accountId, m, q }) =>
    json(configShape(cloud.functions.get(accountId, m[1]!, qualifier(q))))],
  ['PUT', new RegExp(`^/2015-03-31/functions/${F}/configuration/?$`), async ({ cloud, accountId, m, body }) =>
    json(configShape(await cloud.functions.updateConfiguration(accountId, m[1]!, input(parseBody('UpdateFunctionConfiguration', body)))))],
  ['PUT', new RegExp(`^/2015-03-31/functions/${F}/code/?$`), async ({ cloud, accountId, m, body }) => {
    const b = parseBody('UpdateFunctionCode', body);
    return json(configShape(await cloud.functions.updateCode(accountId, m[1]!, base64(b.ZipFile, 'ZipFile'), b.Publish ?? false)));
  }],
  ['POST', new RegExp(`^/2015-03-31/functions/${F}/versions/?$`), ({ cloud, accountId, m, body }) =>
    json(configShape(cloud.functions.publish(accountId, m[1]!, parseBody('PublishVersion', body).Description ?? '')), 201)],
  ['GET', new RegExp(`^/2015-03-31/functions/${F}/versions/?$`), ({ cloud, accountId, m, q }) => {
    const page = cloud.functions.versionsPage(accountId, m[1]!, pageRequest(q));
    return json({ Versions: page.items.map(configShape), NextMarker: page.nextToken });
  }],
  ['GET', new RegExp(`^/2020-06-30/functions/${F}/code-signing-config/?$`), ({ cloud, accountId, m }) =>
    json({ FunctionName: cloud.functions.get(accountId, m[1]!).name })],
  ['POST', new RegExp(`^/2015-03-31/functions/${F}/invocations/?$`), async ({ cloud, accountId, m, q, body, headers }) => {
    const type = headers.get('x-amz-invocation-type') ?? 'RequestResponse';
    const res = await cloud.functions.invoke(accountId, m[1]!, qualifier(q), body, { type, tail: headers.get('x-amz-log-type') === 'Tail' });
    if (!res) return new Response(null, { status: type === 'Event' ? 202 : 204 });
    const out: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-requestid': res.requestId, 'x-amz-executed-version': res.version };
    if (res.functionError) out['x-amz-function-error'] = res.functionError;
    if (res.log) out['x-amz-log-result'] = res.log;
    return new Response(new Uint8Array(res.payload), { status: 200, headers: out });
  }],
  ['POST', new RegExp(`^/2021-10-31/functions/${F}/url/?$`), async ({ cloud, accountId, m, body }) =>
    json(urlShape(await cloud.functions.createUrl(accountId, m[1]!, parseBody('CreateFunctionUrlConfig', body).AuthType), false), 201)],
  ['GET', new RegExp(`^/2021-10-31/functions/${F}/url/?$`), ({ cloud, accountId, m }) =>
    json(urlShape(cloud.functions.url(accountId, m[1]!), true))],
  ['DELETE', new RegExp(`^/2021-10-31/functions/${F}/url/?$`), async ({ cloud, accountId, m }) => {
    await cloud.functions.deleteUrl(accountId, m[1]!);
    return new Response(null, { status: 204 });
  }],
  // GetAccountSettings: the account's Lambda limits and what it uses of them.
  ['GET', /^\/2016-08-19\/account-settings\/?$/, ({ cloud, accountId }) => {
    const { limits: l, usage: u } = cloud.functions.accountSettings(accountId);
    return json({
      AccountLimit: {
        TotalCodeSize: l.totalCodeSize, CodeSizeZipped: l.codeSizeZipped, CodeSizeUnzipped: l.codeSizeUnzipped,
        ConcurrentExecutions: l.concurrentExecutions, UnreservedConcurrentExecutions: l.unreservedConcurrentExecutions,
      },
      AccountUsage: { TotalCodeSize: u.totalCodeSize, FunctionCount: u.functionCount },
    });
  }],
  ['GET', /^\/2017-03-31\/tags\/(.+)$/, ({ cloud, accountId, m }) => json({ Tags: tagsShape(cloud.functions.tagsOf(accountId, m[1]!)) })],
  ['POST', /^\/2017-03-31\/tags\/(.+)$/, async ({ cloud, accountId, m, body }) => {
    cloud.functions.tagsOf(accountId, m[1]!); // a missing function is ResourceNotFoundException, whatever the body holds
    await cloud.functions.tag(accountId, m[1]!, tagList(parseBody('TagResource', body).Tags));
    return new Response(null, { status: 204 });
  }],
  ['DELETE', /^\/2017-03-31\/tags\/(.+)$/, async ({ cloud, accountId, m, q }) => {
    await cloud.functions.untag(accountId, m[1]!, q.getAll('tagKeys'));
    return new Response(null, { status: 204 });
  }],
];
