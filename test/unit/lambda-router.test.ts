/** The Lambda router compiled from the model's HTTP bindings: every operation is reachable by its method and path. */
import { describe, expect, it } from 'vitest';
import { serviceModel } from '../../src/api/model/index.js';
import { BadPathEncoding, RestRouter } from '../../src/api/model/rest-router.js';

const model = serviceModel('lambda-2015-03-31');
const router = new RestRouter(model);
const at = (method: string, path: string) => router.match(method, new URL(path, 'http://h'));

describe('Lambda router from the model', () => {
  it('reaches every operation of the model by its own binding, labels filled in', () => {
    for (const op of model.operations.values()) {
      const uri = op.http.requestUri.replace(/\{([A-Za-z0-9]+)\+?\}/g, (_m, l: string) => `x-${l}`);
      const m = at(op.http.method, uri);
      expect(m?.operation.name, `${op.name} ${op.http.method} ${uri}`).toBe(op.name);
      for (const [, label] of op.http.requestUri.matchAll(/\{([A-Za-z0-9]+)\+?\}/g)) expect(m!.labels.get(label!)).toBe(`x-${label}`);
    }
  });

  it('tells operations on one path apart by method and fixed query members', () => {
    expect(at('GET', '/2015-03-31/functions/f/aliases')?.operation.name).toBe('ListAliases');
    expect(at('POST', '/2015-03-31/functions/f/aliases')?.operation.name).toBe('CreateAlias');
    expect(at('GET', '/2018-10-31/layers?find=LayerVersion&Arn=a')?.operation.name).toBe('GetLayerVersionByArn');
    expect(at('GET', '/2018-10-31/layers')?.operation.name).toBe('ListLayers');
    expect(at('GET', '/2019-09-30/functions/f/provisioned-concurrency?List=ALL')?.operation.name).toBe('ListProvisionedConcurrencyConfigs');
    expect(at('GET', '/2019-09-30/functions/f/provisioned-concurrency')?.operation.name).toBe('GetProvisionedConcurrencyConfig');
  });

  it('percent-decodes labels, with or without a trailing slash; nothing else matches', () => {
    expect(at('GET', '/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af')?.labels.get('ARN')).toBe('arn:aws:lambda:us-east-1:1:function:f');
    expect(at('GET', '/2015-03-31/functions/')?.operation.name).toBe('ListFunctions');
    expect(at('GET', '/2015-03-31/functions/a/b/c/d')).toBeUndefined();
    expect(at('PATCH', '/2015-03-31/functions/f')).toBeUndefined();
    expect(at('GET', '/__proto__/constructor')).toBeUndefined();
    expect(() => at('GET', '/2015-03-31/functions/%E0%A4%A')).toThrow(BadPathEncoding);
  });

  it('knows the path prefixes that make an unsigned request a Lambda one', () => {
    expect(router.prefixes.has('2015-03-31')).toBe(true);
    expect(router.prefixes.has('2018-10-31')).toBe(true);
    expect(router.prefixes.has('')).toBe(false);
  });
});
