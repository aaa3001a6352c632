/**
 * The Lambda wire against hostile input (issue 12): bad %-encoding in paths, `null` and wrongly typed members, maps
 * keyed by `__proto__`, characters other services cannot serve back. AWS's error codes, never a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../support/api.js';
import { lambdaRole } from '../support/roles.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
  ROLE = await lambdaRole(api.endpoint, api.key);
});
afterAll(async () => { await api?.close(); });

export const ZIP = 'UEsDBBQAAAAAAFqGgV2XmWIwIAAAACAAAAAIAAAAaW5kZXgucHlkZWYgaGFuZGxlcihlLCBjKToKICAgIHJldHVybiBlClBLAQIUAxQAAAAAAFqGgV2XmWIwIAAAACAAAAAIAAAAAAAAAAAAAACAAQAAAABpbmRleC5weVBLBQYAAAAAAQABADYAAABGAAAAAAA=';
/** The account's execution role (test/support/roles.ts), made through IAM. */
let ROLE = '';

async function lambda(method: string, path: string, body?: unknown): Promise<{ status: number; type?: string; json: Record<string, unknown> }> {
  const res = await api.send({ method, path, service: 'lambda', body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const json = res.text ? JSON.parse(res.text) as Record<string, unknown> : {};
  return { status: res.status, type: res.headers.get('x-amzn-errortype') ?? undefined, json };
}

const create = (over: Record<string, unknown>) => lambda('POST', '/2015-03-31/functions', {
  FunctionName: 'f', Runtime: 'python3.11', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: ZIP }, ...over,
});

describe('Lambda paths', () => {
  it('bad %-encoding is a 400 on every route, not a 500', async () => {
    const routes: [string, string][] = [
      ['GET', '/2015-03-31/functions/%zz'], ['DELETE', '/2015-03-31/functions/%zz'], ['GET', '/2015-03-31/functions/%zz/configuration'],
      ['PUT', '/2015-03-31/functions/%zz/configuration'], ['PUT', '/2015-03-31/functions/%E0%A4%A/code'], ['POST', '/2015-03-31/functions/%zz/invocations'],
      ['GET', '/2021-10-31/functions/%zz/url'], ['GET', '/2017-03-31/tags/%zz'], ['POST', '/2015-03-31/functions/%/versions'],
    ];
    for (const [method, path] of routes) {
      const res = await lambda(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.type).toBe('InvalidParameterValueException');
    }
  });

  it('ListFunctions refuses MaxItems out of range and a Marker pcloud did not hand out', async () => {
    for (const q of ['MaxItems=-5', 'MaxItems=0', 'MaxItems=abc', 'MaxItems=100000', 'Marker=-1', 'Marker=1e300', 'Marker=0', 'Marker=%00']) {
      const res = await lambda('GET', `/2015-03-31/functions?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.type, q).toBe('InvalidParameterValueException');
    }
    expect((await lambda('GET', '/2015-03-31/functions?MaxItems=10')).status).toBe(200);
  });

  it('query-string and header members outside their enum are ValidationException, before the operation runs', async () => {
    expect((await lambda('GET', '/2015-03-31/functions?FunctionVersion=__proto__')).type).toBe('ValidationException');
    const res = await api.send({ method: 'POST', path: '/2015-03-31/functions/nope/invocations', service: 'lambda', body: '{}', headers: { 'x-amz-invocation-type': 'Sometimes' } });
    expect([res.status, res.headers.get('x-amzn-errortype')]).toEqual([400, 'ValidationException']);
    expect((JSON.parse(res.text) as { message: string }).message).toContain("at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set");
    expect((await lambda('GET', '/2015-03-31/functions?FunctionVersion=ALL')).status).toBe(200);
  });
});

describe('Lambda bodies', () => {
  it('null members are absent ones; wrongly typed members are InvalidRequestContentException', async () => {
    const nulls = await create({ FunctionName: 'nulls', Description: null, Environment: null, Tags: null, MemorySize: null, Publish: null, Architectures: null });
    expect(nulls.status).toBe(201);
    expect(nulls.json.MemorySize).toBe(128);
    const wrong: Record<string, unknown>[] = [
      { FunctionName: 5 }, { FunctionName: null }, { Runtime: ['python3.11'] }, { MemorySize: '128' }, { MemorySize: 1.5 }, { Timeout: {} },
      { Environment: 'x' }, { Environment: { Variables: ['a'] } }, { Environment: { Variables: { A: 1 } } }, { Tags: [] },
      { Tags: { a: { b: 1 } } }, { Code: 'zip' }, { Code: { ZipFile: 7 } }, { Publish: 'yes' }, { Architectures: 'x86_64' },
      { Architectures: [null] },
    ];
    for (const w of wrong) {
      const res = await create({ FunctionName: 'typed', ...w });
      expect(res.status, JSON.stringify(w)).toBeGreaterThanOrEqual(400);
      expect(res.status, JSON.stringify(w)).toBeLessThan(500);
    }
    expect((await create({ FunctionName: 'typed', MemorySize: '128' })).type).toBe('InvalidRequestContentException');
    for (const body of ['null', '[]', '"x"', '5', '{', '{"FunctionName":']) {
      const res = await lambda('POST', '/2015-03-31/functions', body);
      expect(res.status, body).toBe(400);
    }
    expect((await lambda('GET', '/2015-03-31/functions/typed')).status).toBe(404);
  });

  it('an environment is stored and served back, __proto__ and constructor as keys like any other', async () => {
    const res = await create({ FunctionName: 'env', Environment: { Variables: { GREETING: 'hello', EMPTY: '' } } });
    expect(res.status).toBe(201);
    expect((res.json.Environment as { Variables: unknown }).Variables).toEqual({ GREETING: 'hello', EMPTY: '' });
    const upd = await lambda('PUT', '/2015-03-31/functions/env/configuration', '{"Environment":{"Variables":{"__proto__":"x","constructor":"y"}}}');
    expect(upd.status).toBeLessThan(500);
    if (upd.status === 200) expect((upd.json.Environment as { Variables: unknown }).Variables).toEqual(JSON.parse('{"__proto__":"x","constructor":"y"}'));
  });

  it('maps from JSON are maps: __proto__ and constructor are keys like any other', async () => {
    const res = await lambda('POST', '/2015-03-31/functions', `{"FunctionName":"protos","Runtime":"python3.11","Handler":"index.handler","Role":"${ROLE}",`
      + `"Code":{"ZipFile":"${ZIP}"},"Tags":{"__proto__":"p","constructor":"c"}}`);
    expect(res.status).toBe(201);
    const got = await lambda('GET', '/2015-03-31/functions/protos');
    expect(got.json.Tags).toEqual(JSON.parse('{"__proto__":"p","constructor":"c"}'));
    const env = await lambda('PUT', '/2015-03-31/functions/protos/configuration', '{"Environment":{"Variables":{"__proto__":"x","toString":"y","hasOwnProperty":"z"}}}');
    expect(env.status).toBeLessThan(500);
    const tag = await lambda('POST', `/2017-03-31/tags/${encodeURIComponent('arn:aws:lambda:us-east-1:111111111111:function:nulls')}`, '{"Tags":{"__proto__":"z"}}');
    expect(tag.status).toBe(204);
    expect((await lambda('GET', '/2015-03-31/functions/nulls')).json.Tags).toEqual(JSON.parse('{"__proto__":"z"}'));
  });

  it('strings other services cannot serve back (NUL, controls in tags) are InvalidParameterValueException', async () => {
    for (const over of [{ Tags: { k: 'a\u0000b' } }, { Tags: { k: 'a\u0001b' } }, { Description: 'a\u0000' }, { Environment: { Variables: { A: 'x\u0000y' } } }]) {
      const res = await create({ FunctionName: 'ctl', ...over });
      expect(res.status, JSON.stringify(over)).toBe(400);
      expect(res.type).toBe('InvalidParameterValueException');
    }
    expect((await lambda('GET', '/2015-03-31/functions/ctl')).status).toBe(404);
    expect((await create({ FunctionName: 'ctl', Code: { ZipFile: 'not base64!' } })).type).toBe('InvalidParameterValueException');
  });
});
