import { describe, expect, it } from 'vitest';
import { Query } from '../../src/api/ec2/query.js';
import { CloudError } from '../../src/cloud/errors.js';
import { thrown } from '../support/thrown.js';

describe('EC2 Query parsing', () => {
  it('reads flattened lists, structures and filters in index order', () => {
    const q = Query.parse([
      'Action=DescribeInstances', 'InstanceId.2=i-b', 'InstanceId.1=i-a', 'Filter.1.Name=tag%3AName', 'Filter.1.Value.1=web%2A',
      'Filter.1.Value.2=db', 'Filter.2.Name=instance-state-name', 'Filter.2.Value.1=running',
      'TagSpecification.1.ResourceType=instance', 'TagSpecification.1.Tag.1.Key=a+b', 'TagSpecification.1.Tag.1.Value=',
    ].join('&'));
    expect(q.list('InstanceId')).toEqual(['i-a', 'i-b']);
    expect(q.filters()).toEqual([
      { name: 'tag:Name', values: ['web*', 'db'] },
      { name: 'instance-state-name', values: ['running'] },
    ]);
    const spec = q.structs('TagSpecification')[0]!;
    expect(spec.str('ResourceType')).toBe('instance');
    expect(spec.structs('Tag').map((t) => [t.str('Key'), t.str('Value')])).toEqual([['a b', '']]);
  });

  it('rejects broken percent-encoding and bad scalars with EC2 codes', () => {
    expect(() => Query.parse('Action=%ZZ')).toThrow(CloudError);
    const q = Query.parse('MinCount=x&DryRun=maybe');
    expect(() => q.int('MinCount')).toThrow(/Expected an integer/);
    expect(() => q.bool('DryRun')).toThrow(/Expected a boolean/);
    expect(thrown(() => q.req('ImageId'))).toMatchObject({ code: 'MissingParameter' });
  });
});
