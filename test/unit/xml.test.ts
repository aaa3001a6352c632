import { describe, expect, it } from 'vitest';
import xml2js from 'xml2js';
import { errorXml, successXml } from '../../src/api/ec2/xml.js';

describe('EC2 XML serializer', () => {
  it('writes the response element with namespace, requestId first, item lists, booleans and dates', async () => {
    const xml = successXml('DescribeThings', 'req-1', {
      thingSet: [{ id: 'a', on: true, when: new Date(0), skip: undefined, nested: { n: 1 } }, { id: '<b&>' }],
      emptySet: [],
    });
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?><DescribeThingsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>')).toBe(true);
    const parsed = await xml2js.parseStringPromise(xml, { explicitArray: false }) as { DescribeThingsResponse: { thingSet: { item: Record<string, unknown>[] }; emptySet: unknown } };
    const items = parsed.DescribeThingsResponse.thingSet.item;
    expect(items[0]).toEqual({ id: 'a', on: 'true', when: '1970-01-01T00:00:00.000Z', nested: { n: '1' } });
    expect(items[1]?.id).toBe('<b&>');
    expect(parsed.DescribeThingsResponse.emptySet).toBe('');
  });

  it('writes errors in the Response/Errors/Error form', async () => {
    const parsed = await xml2js.parseStringPromise(errorXml('InvalidInstanceID.NotFound', 'nope', 'r1'), { explicitArray: false }) as { Response: { Errors: { Error: unknown }; RequestID: unknown } };
    expect(parsed.Response.Errors.Error).toEqual({ Code: 'InvalidInstanceID.NotFound', Message: 'nope' });
    expect(parsed.Response.RequestID).toBe('r1');
  });
});

describe('EC2 XML serializer on data XML cannot carry', () => {
  it('never throws: NUL, controls, U+FFFF and lone surrogates are written as U+FFFD, tab/LF/CR kept', async () => {
    const xml = successXml('DescribeTags', 'r', { tagSet: [{ key: 'a\0b\x01\x1b', value: 'x\uffff\ud800y' }, { key: 't\tn\nr\r', value: '' }] });
    const parsed = await xml2js.parseStringPromise(xml, { explicitArray: false }) as { DescribeTagsResponse: { tagSet: { item: Record<string, unknown>[] } } };
    const items = parsed.DescribeTagsResponse.tagSet.item;
    expect(items[0]).toEqual({ key: 'a\uFFFDb\uFFFD\uFFFD', value: 'x\uFFFD\uFFFDy' });
    expect(items[1]?.key).toBe('t\tn\nr\r');
    expect(() => errorXml('Code\0', 'message \x00 with NUL', 'r')).not.toThrow();
  });
});
