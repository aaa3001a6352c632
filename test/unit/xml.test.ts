import { describe, expect, it } from 'vitest';
import xml2js from 'xml2js';
import { errorXml, ShapeMismatch, successXml } from '../../src/api/ec2/xml.js';
import { serviceModel } from '../../src/api/model/index.js';
import { outputNode } from '../../src/api/model/compile.js';

const model = serviceModel('ec2-2016-11-15');
const output = (action: string) => outputNode(model, model.operations.get(action)!);

describe('EC2 XML serializer', () => {
  it('writes the response element with namespace, requestId first, item lists, booleans, integers and dates', async () => {
    const xml = successXml('DescribeVolumes', 'req-1', {
      volumeSet: [
        { volumeId: 'a', encrypted: true, createTime: new Date(0), kmsKeyId: undefined, size: 8, attachmentSet: [{ deleteOnTermination: false }] },
        { volumeId: '<b&>', attachmentSet: [] },
      ],
    }, output('DescribeVolumes'));
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?><DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>')).toBe(true);
    const parsed = await xml2js.parseStringPromise(xml, { explicitArray: false }) as { DescribeVolumesResponse: { volumeSet: { item: Record<string, unknown>[] } } };
    const items = parsed.DescribeVolumesResponse.volumeSet.item;
    expect(items[0]).toEqual({ volumeId: 'a', encrypted: 'true', createTime: '1970-01-01T00:00:00.000Z', size: '8', attachmentSet: { item: { deleteOnTermination: 'false' } } });
    expect(items[1]).toEqual({ volumeId: '<b&>', attachmentSet: '' });
  });

  it('an operation without an output shape answers return; a key the shape lacks is refused when strict, dropped otherwise', async () => {
    expect(successXml('CreateTags', 'r', { return: true }, output('CreateTags'), true)).toContain('<return>true</return>');
    expect(() => successXml('DescribeVolumes', 'r', { volumeSet: [{ volumeId: 'a', pcloudOwn: 1 }] }, output('DescribeVolumes'), true))
      .toThrow(ShapeMismatch);
    expect(() => successXml('DescribeVolumes', 'r', { volumeSet: [{ volumeId: 'a', pcloudOwn: 1 }] }, output('DescribeVolumes'), true))
      .toThrow('DescribeVolumes.volumeSet[0].pcloudOwn: not a member of the output shape');
    const loose = successXml('DescribeVolumes', 'r', { volumeSet: [{ volumeId: 'a', pcloudOwn: 1 }] }, output('DescribeVolumes'), false);
    expect(loose).toContain('<volumeId>a</volumeId>');
    expect(loose).not.toContain('pcloudOwn');
  });

  it('writes errors in the Response/Errors/Error form', async () => {
    const parsed = await xml2js.parseStringPromise(errorXml('InvalidInstanceID.NotFound', 'nope', 'r1'), { explicitArray: false }) as { Response: { Errors: { Error: unknown }; RequestID: unknown } };
    expect(parsed.Response.Errors.Error).toEqual({ Code: 'InvalidInstanceID.NotFound', Message: 'nope' });
    expect(parsed.Response.RequestID).toBe('r1');
  });
});

describe('EC2 XML serializer on data XML cannot carry', () => {
  it('never throws: NUL, controls, U+FFFF and lone surrogates are written as U+FFFD, tab/LF/CR kept', async () => {
    const xml = successXml('DescribeTags', 'r', { tagSet: [{ key: 'a\0b\x01\x1b', value: 'x\uffff\ud800y' }, { key: 't\tn\nr\r', value: '' }] }, output('DescribeTags'));
    const parsed = await xml2js.parseStringPromise(xml, { explicitArray: false }) as { DescribeTagsResponse: { tagSet: { item: Record<string, unknown>[] } } };
    const items = parsed.DescribeTagsResponse.tagSet.item;
    expect(items[0]).toEqual({ key: 'a\uFFFDb\uFFFD\uFFFD', value: 'x\uFFFD\uFFFDy' });
    expect(items[1]?.key).toBe('t\tn\nr\r');
    expect(() => errorXml('Code\0', 'message \x00 with NUL', 'r')).not.toThrow();
  });
});
