/**
 * The EC2 wire against hostile input (issue 12): every case here answered 500 or stalled the server before its fix.
 * Each must get AWS's error code, or an answer, never a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../support/api.js';
import { tags as tagsTable } from '../../src/db/schema.js';
import { write } from '../../src/db/store.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

const V = 'Version=2016-11-15';
const enc = encodeURIComponent;

async function ec2(params: string): Promise<{ status: number; code?: string; text: string }> {
  const res = await api.post(params);
  return { status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(res.text)?.[1], text: res.text };
}

async function keyPair(name: string): Promise<string> {
  const res = await ec2(`Action=CreateKeyPair&${V}&KeyName=${name}`);
  expect(res.status).toBe(200);
  return /<keyPairId>([^<]+)</.exec(res.text)![1]!;
}

describe('characters XML cannot carry', () => {
  it('are refused at the edge with InvalidParameterValue, in any parameter', async () => {
    const id = await keyPair('nul-edge');
    for (const bad of ['%00', '%01', '%1B%5B31m', '%EF%BF%BF', '%ED%A0%80']) {
      const res = await ec2(`Action=CreateTags&${V}&ResourceId.1=${id}&Tag.1.Key=k&Tag.1.Value=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.code).toBe('InvalidParameterValue');
    }
    expect((await ec2(`Action=CreateKeyPair&${V}&KeyName=a%00b`)).code).toBe('InvalidParameterValue');
    expect((await ec2(`Action=DescribeKeyPairs&${V}&Filter.1.Name=key-name&Filter.1.Value.1=%07`)).code).toBe('InvalidParameterValue');
    // Tab, newline and carriage return are XML characters: stored and served back.
    expect((await ec2(`Action=CreateTags&${V}&ResourceId.1=${id}&Tag.1.Key=k&Tag.1.Value=a%09b%0Ac%0Dd`)).status).toBe(200);
    const back = (await api.cloud.tags.of([id])).get(id);
    expect(back).toEqual([{ key: 'k', value: 'a\tb\nc\rd' }]);
  });

  it('already stored (by an older pcloud) are served as U+FFFD: DescribeTags and DescribeKeyPairs keep answering', async () => {
    const id = await keyPair('stored-nul');
    await api.cloud.db.insert(tagsTable).values({ accountId: '111111111111', resourceId: id, resourceType: 'key-pair', key: 'bad\0key', value: 'v\x01\x02' });
    const tags = await ec2(`Action=DescribeTags&${V}`);
    expect(tags.status).toBe(200);
    expect(tags.text).toContain('<key>bad\uFFFDkey</key>');
    expect(tags.text).toContain('<value>v\uFFFD\uFFFD</value>');
    const keys = await ec2(`Action=DescribeKeyPairs&${V}`);
    expect(keys.status).toBe(200);
    expect(keys.text).toContain('stored-nul');
  });
});

describe('user input as a table key', () => {
  it('Object.prototype names as Action are InvalidAction', async () => {
    for (const action of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const res = await ec2(`Action=${action}&${V}`);
      expect(res.status, action).toBe(400);
      expect(res.code).toBe('InvalidAction');
    }
  });

  it('Object.prototype names as filter names are InvalidParameterValue in every describe', async () => {
    const actions = ['DescribeInstances', 'DescribeKeyPairs', 'DescribeVpcs', 'DescribeSubnets', 'DescribeSecurityGroups', 'DescribeVolumes',
      'DescribeTags', 'DescribeAvailabilityZones', 'DescribeInstanceTypes', 'DescribeRouteTables', 'DescribeInternetGateways',
      'DescribeImages', 'DescribeSnapshots', 'DescribeSecurityGroupRules', 'DescribeNetworkInterfaces', 'DescribeNetworkAcls'];
    for (const action of actions) {
      for (const name of ['__proto__', 'constructor', 'toString']) {
        const res = await ec2(`Action=${action}&${V}&Filter.1.Name=${name}&Filter.1.Value.1=x`);
        expect(res.status, `${action} ${name}`).toBe(400);
        expect(res.code).toBe('InvalidParameterValue');
      }
    }
  });

  it('Object.prototype names as an attribute or resource id prefix are refused', async () => {
    const run = await ec2(`Action=RunInstances&${V}&ImageId=${api.imageId}&InstanceType=t3.nano&MinCount=1&MaxCount=1`);
    const id = /<instanceId>([^<]+)</.exec(run.text)![1]!;
    expect((await ec2(`Action=DescribeInstanceAttribute&${V}&InstanceId=${id}&Attribute=toString`)).code).toBe('InvalidParameterValue');
    expect((await ec2(`Action=CreateTags&${V}&ResourceId.1=constructor-1&Tag.1.Key=a&Tag.1.Value=b`)).code).toBe('InvalidID');
  });
});

describe('filters', () => {
  it('at most 200 values per call (FilterLimitExceeded), as on AWS; a filter needs a value', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => `Filter.${i + 1}.Name=tag:k${i}&Filter.${i + 1}.Value.1=v`).join('&');
    for (const action of ['DescribeInstances', 'DescribeTags', 'DescribeKeyPairs', 'DescribeVpcs']) {
      const res = await ec2(`Action=${action}&${V}&${many}`);
      expect(res.status, action).toBe(400);
      expect(res.code).toBe('FilterLimitExceeded');
    }
    const values = Array.from({ length: 201 }, (_, i) => `Filter.1.Value.${i + 1}=v${i}`).join('&');
    expect((await ec2(`Action=DescribeVpcs&${V}&Filter.1.Name=vpc-id&${values}`)).code).toBe('FilterLimitExceeded');
    const ok = Array.from({ length: 200 }, (_, i) => `Filter.1.Value.${i + 1}=v${i}`).join('&');
    expect((await ec2(`Action=DescribeVpcs&${V}&Filter.1.Name=vpc-id&${ok}`)).status).toBe(200);
    for (const action of ['DescribeInstances', 'DescribeTags', 'DescribeVpcs']) {
      expect((await ec2(`Action=${action}&${V}&Filter.1.Name=tag:x`)).code, action).toBe('InvalidParameterValue');
    }
  });

  it('wildcards over long tags are matched without backtracking (answered, not stalled)', async () => {
    const id = await keyPair('wild');
    const vpc = /<vpcId>([^<]+)</.exec((await ec2(`Action=DescribeVpcs&${V}`)).text)![1]!;
    const long = 'a'.repeat(200);
    expect((await ec2(`Action=CreateTags&${V}&ResourceId.1=${id}&ResourceId.2=${vpc}&Tag.1.Key=r&Tag.1.Value=${long}`)).status).toBe(200);
    const evil = enc('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b');
    for (const action of ['DescribeKeyPairs', 'DescribeVpcs', 'DescribeInstances', 'DescribeTags']) {
      const filter = action === 'DescribeTags' ? `Filter.1.Name=value&Filter.1.Value.1=${evil}` : `Filter.1.Name=tag%3Ar&Filter.1.Value.1=${evil}`;
      const res = await ec2(`Action=${action}&${V}&${filter}`);
      expect(res.status, action).toBe(200);
      expect(res.text).not.toContain(long);
    }
    const hit = await ec2(`Action=DescribeKeyPairs&${V}&Filter.1.Name=tag%3Ar&Filter.1.Value.1=${enc('*a*a?a*a')}`);
    expect(hit.text).toContain('<keyName>wild</keyName>');
  });
});

describe('paging', () => {
  it('a NextToken with a huge or forged offset is InvalidPaginationToken', async () => {
    for (const o of [1e300, 2 ** 63, -1, 1.5, '1']) {
      const token = Buffer.from(JSON.stringify({ o })).toString('base64url');
      const res = await ec2(`Action=DescribeInstances&${V}&MaxResults=5&NextToken=${token}`);
      expect(res.status, String(o)).toBe(400);
      expect(res.code).toBe('InvalidPaginationToken');
    }
    expect((await ec2(`Action=DescribeInstances&${V}&MaxResults=5&NextToken=%00%01`)).code).toBe('InvalidParameterValue');
  });
});

describe('lists', () => {
  it('at most 1,000 members a list: 33,000 key names are refused, not sent to SQLite as 33,000 variables', async () => {
    const ids = Array.from({ length: 1001 }, (_, i) => `InstanceId.${i + 1}=i-${i.toString(16).padStart(17, '0')}`).join('&');
    for (const action of ['DescribeInstances', 'TerminateInstances', 'DescribeInstanceStatus']) {
      const res = await ec2(`Action=${action}&${V}&${ids}`);
      expect(res.status, action).toBe(400);
      expect(res.code).toBe('InvalidParameterValue');
    }
    const keys = Array.from({ length: 33_000 }, (_, i) => `KeyName.${i + 1}=k${i}`).join('&');
    expect((await ec2(`Action=DescribeKeyPairs&${V}&${keys}`)).code).toBe('InvalidParameterValue');
  });
});

describe('filters too costly to apply', () => {
  it('are refused with InvalidParameterValue, in SQL (DescribeTags) and in memory (DescribeKeyPairs)', async () => {
    const id = await keyPair('costly');
    const long = 'a'.repeat(256);
    await write(api.cloud.db, async (tx) => {
      for (let t = 0; t < 3000; t++) await tx.insert(tagsTable).values({ accountId: '111111111111', resourceId: `${id}-${t}`, resourceType: 'key-pair', key: `k${t}`, value: long });
      for (let t = 0; t < 50; t++) await tx.insert(tagsTable).values({ accountId: '111111111111', resourceId: id, resourceType: 'key-pair', key: `c${t}`, value: long });
    });
    const values = Array.from({ length: 200 }, (_, i) => `Filter.1.Value.${i + 1}=${enc('*' + 'a'.repeat(50 + i) + '?b*')}`).join('&');
    for (const [action, name] of [['DescribeTags', 'value'], ['DescribeKeyPairs', 'tag-value']]) {
      const res = await ec2(`Action=${action}&${V}&Filter.1.Name=${name}&${values}`);
      expect(res.status, action).toBe(400);
      expect(res.code).toBe('InvalidParameterValue');
      expect(res.text).toContain('too long to apply');
    }
    // The same filter with a few values is answered.
    expect((await ec2(`Action=DescribeTags&${V}&Filter.1.Name=value&Filter.1.Value.1=${enc('*a?b*')}`)).status).toBe(200);
  });
});
