/**
 * The one filter rule where the domain applies it: DescribeImages' filters (fields and tags, in memory) and
 * DescribeInstances' and DescribeTags' (in SQL) take the same names, tag filters and errors as filters.ts.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cloud } from '../../src/cloud/index.js';
import type { Filter } from '../../src/cloud/filters.js';
import { newId } from '../../src/cloud/ids.js';
import { SYSTEM_ACCOUNT } from '../../src/cloud/images.js';
import { images } from '../../src/db/schema.js';
import { fakeHost } from '../support/fake-host.js';
import { rejected } from '../support/thrown.js';

const ACCOUNT = '111111111111';
const open: Cloud[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

async function cloudWithImages(names: string[]) {
  const fake = await fakeHost();
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-filters-'));
  const cloud = await Cloud.open({ dataDir, host: fake.host, config: {} });
  open.push(cloud);
  const ids: string[] = [];
  for (const [i, name] of names.entries()) {
    const id = newId('ami');
    await cloud.db.insert(images).values({
      id, ownerId: SYSTEM_ACCOUNT, name, description: `image ${name}`, architecture: 'x86_64', platform: 'linux', bootMode: 'legacy-bios',
      state: 'available', isPublic: true, rootPath: await fake.pool.createImageRoot(id), sizeBytes: 1 << 30, source: 'test', createdAt: i,
    });
    ids.push(id);
  }
  return { cloud, ids };
}

const invalid = (name: string) => ({ code: 'InvalidParameterValue', message: `The filter '${name}' is invalid` });

describe('DescribeImages filters', () => {
  it('applies fields, tag:KEY, tag-key and tag-value, with wildcards', async () => {
    const { cloud, ids } = await cloudWithImages(['debian-12', 'debian-13', 'alpine']);
    const [d12, d13, alpine] = ids as [string, string, string];
    await cloud.tags.put(SYSTEM_ACCOUNT, [d12], [{ key: 'os', value: 'debian' }]);
    await cloud.tags.put(SYSTEM_ACCOUNT, [alpine], [{ key: 'os', value: 'alpine' }, { key: 'tiny', value: 'yes' }]);
    const find = async (filters: Filter[]) => (await cloud.images.describe(ACCOUNT, [], [], filters)).map((r) => r.id);
    expect(await find([])).toEqual([d12, d13, alpine]);
    expect(await find([{ name: 'name', values: ['debian-*'] }])).toEqual([d12, d13]);
    expect(await find([{ name: 'name', values: ['debian-1?'] }, { name: 'owner-alias', values: ['amazon'] }])).toEqual([d12, d13]);
    expect(await find([{ name: 'tag:os', values: ['debian'] }])).toEqual([d12]);
    expect(await find([{ name: 'tag:os', values: ['*'] }, { name: 'name', values: ['a*'] }])).toEqual([alpine]);
    expect(await find([{ name: 'tag-key', values: ['ti*'] }])).toEqual([alpine]);
    expect(await find([{ name: 'tag-value', values: ['debian', 'yes'] }])).toEqual([d12, alpine]);
  });

  it('refuses a name it does not know, Object.prototype members and tag look-alikes included', async () => {
    const { cloud } = await cloudWithImages(['debian-12']);
    for (const name of ['bogus', 'constructor', '__proto__', 'toString', 'tags', 'tagged']) {
      expect((await rejected(() => cloud.images.describe(ACCOUNT, [], [], [{ name, values: ['x'] }]))), name).toMatchObject(invalid(name));
    }
  });
});

describe('the SQL filters share the names and errors', () => {
  it('DescribeInstances and DescribeTags refuse unknown names as the in-memory filters do', async () => {
    const { cloud } = await cloudWithImages([]);
    for (const name of ['bogus', 'constructor', '__proto__', 'toString', 'tag']) {
      expect((await rejected(() => cloud.instances.describe(ACCOUNT, { ids: [], filters: [{ name, values: ['x'] }] }))), name).toMatchObject(invalid(name));
      expect((await rejected(() => cloud.tags.describe(ACCOUNT, [{ name, values: ['x'] }]))), name).toMatchObject(invalid(name));
    }
    // The tag filters are DescribeInstances' too (an account without instances finds none).
    for (const name of ['tag:Name', 'tag-key', 'tag-value']) {
      expect((await cloud.instances.describe(ACCOUNT, { ids: [], filters: [{ name, values: ['*'] }] })).instances).toEqual([]);
    }
  });
});
