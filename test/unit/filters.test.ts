import { describe, expect, it } from 'vitest';
import { CloudError } from '../../src/cloud/errors.js';
import { thrown } from '../support/thrown.js';
import { byIds, fieldOf, filterRows, invalidFilter, matches, tagFilter, type Fields, type Filter } from '../../src/cloud/filters.js';

interface Row { id: string; name: string; size: number; groups: string[]; vpcId: string | null }

const rows: Row[] = [
  { id: 'r-1', name: 'web-a', size: 8, groups: ['sg-1', 'sg-2'], vpcId: 'vpc-1' },
  { id: 'r-2', name: 'web-b', size: 16, groups: [], vpcId: null },
  { id: 'r-3', name: 'db', size: 8, groups: ['sg-3'], vpcId: 'vpc-1' },
];

const fields: Fields<Row> = {
  name: (r) => r.name, size: (r) => String(r.size), 'group-id': (r) => r.groups, 'vpc-id': (r) => r.vpcId, state: () => 'available',
};

const tags = new Map([
  ['r-1', [{ key: 'Name', value: 'front' }, { key: 'env', value: 'prod' }]],
  ['r-3', [{ key: 'env', value: 'dev' }]],
]);

const ids = (list: Row[]) => list.map((r) => r.id);
const apply = (filters: Filter[], withTags = true) => ids(withTags ? filterRows(rows, filters, fields, tags) : filterRows(rows, filters, fields));

/** The CloudError thrown (the test fails if none is). */
function refusal(fn: () => unknown): CloudError {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(CloudError);
  return err as CloudError;
}

describe('filterRows', () => {
  it('matches a field by any of its values, with EC2 wildcards', () => {
    expect(apply([{ name: 'name', values: ['db'] }])).toEqual(['r-3']);
    expect(apply([{ name: 'name', values: ['web-*'] }])).toEqual(['r-1', 'r-2']);
    expect(apply([{ name: 'name', values: ['web-?'] }])).toEqual(['r-1', 'r-2']);
    expect(apply([{ name: 'name', values: ['we?'] }])).toEqual([]);
    expect(apply([{ name: 'name', values: ['db', 'web-b'] }])).toEqual(['r-2', 'r-3']);
    // Characters a regex would read are literal.
    expect(apply([{ name: 'name', values: ['web.a'] }])).toEqual([]);
    expect(apply([{ name: 'name', values: ['.*'] }])).toEqual([]);
  });

  it('ANDs its filters', () => {
    expect(apply([{ name: 'name', values: ['web-*'] }, { name: 'size', values: ['8'] }])).toEqual(['r-1']);
    expect(apply([{ name: 'size', values: ['8'] }, { name: 'state', values: ['available'] }])).toEqual(['r-1', 'r-3']);
    expect(apply([])).toEqual(['r-1', 'r-2', 'r-3']);
  });

  it('matches a list-valued field if any element does; an empty list or a missing value matches nothing', () => {
    expect(apply([{ name: 'group-id', values: ['sg-2'] }])).toEqual(['r-1']);
    expect(apply([{ name: 'group-id', values: ['sg-*'] }])).toEqual(['r-1', 'r-3']);
    expect(apply([{ name: 'group-id', values: ['*'] }])).toEqual(['r-1', 'r-3']);
    expect(apply([{ name: 'vpc-id', values: ['*'] }])).toEqual(['r-1', 'r-3']);
  });

  it('applies tag:KEY to that tag\'s value, tag-key and tag-value to any tag', () => {
    expect(apply([{ name: 'tag:env', values: ['prod'] }])).toEqual(['r-1']);
    expect(apply([{ name: 'tag:env', values: ['*'] }])).toEqual(['r-1', 'r-3']);
    expect(apply([{ name: 'tag:Name', values: ['fr*'] }])).toEqual(['r-1']);
    // The key is exact: no wildcard in tag:KEY's KEY, no case folding.
    expect(apply([{ name: 'tag:e*', values: ['*'] }])).toEqual([]);
    expect(apply([{ name: 'tag:ENV', values: ['*'] }])).toEqual([]);
    expect(apply([{ name: 'tag-key', values: ['Name'] }])).toEqual(['r-1']);
    expect(apply([{ name: 'tag-key', values: ['e?v'] }])).toEqual(['r-1', 'r-3']);
    expect(apply([{ name: 'tag-value', values: ['dev', 'front'] }])).toEqual(['r-1', 'r-3']);
    expect(apply([{ name: 'tag-value', values: ['env'] }])).toEqual([]);
    expect(apply([{ name: 'tag:env', values: ['*'] }, { name: 'size', values: ['8'] }, { name: 'tag-value', values: ['dev'] }])).toEqual(['r-3']);
  });

  it('refuses a name the table does not have (InvalidParameterValue), Object.prototype members included', () => {
    for (const name of ['bogus', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'Name', 'tag', 'tags:env', 'tagkey']) {
      const err = refusal(() => apply([{ name, values: ['x'] }]));
      expect(err.code, name).toBe('InvalidParameterValue');
      expect(err.message).toBe(`The filter '${name}' is invalid`);
    }
    // Even when an earlier filter already left nothing.
    expect(refusal(() => apply([{ name: 'name', values: ['none'] }, { name: 'constructor', values: ['x'] }])).code).toBe('InvalidParameterValue');
  });

  it('refuses tag filters for a resource without tags, as any unknown name', () => {
    for (const name of ['tag:env', 'tag-key', 'tag-value']) {
      expect(refusal(() => apply([{ name, values: ['*'] }], false)).message).toBe(`The filter '${name}' is invalid`);
    }
    expect(apply([{ name: 'name', values: ['db'] }], false)).toEqual(['r-3']);
  });

  it('filters rows without ids (a catalog\'s) by their fields', () => {
    const types = [{ name: 't3.nano', vcpus: 2 }, { name: 'm5.large', vcpus: 2 }, { name: 't3.xlarge', vcpus: 4 }];
    const byName: Fields<(typeof types)[number]> = { 'instance-type': (t) => t.name, vcpus: (t) => String(t.vcpus) };
    expect(filterRows(types, [{ name: 'instance-type', values: ['t3.*'] }, { name: 'vcpus', values: ['2'] }], byName)).toEqual([types[0]]);
  });

  it('never reads a table\'s prototype for a name (a field table made with Object.create(null) too)', () => {
    const bare = Object.assign(Object.create(null) as Fields<Row>, { name: (r: Row) => r.name });
    expect(ids(filterRows(rows, [{ name: 'name', values: ['db'] }], bare))).toEqual(['r-3']);
    expect(refusal(() => filterRows(rows, [{ name: '__proto__', values: ['x'] }], bare)).code).toBe('InvalidParameterValue');
  });
});

describe('the shared rules', () => {
  it('tagFilter names the three tag filters and nothing else', () => {
    expect(tagFilter('tag:Name')).toEqual({ kind: 'tag', key: 'Name' });
    expect(tagFilter('tag:')).toEqual({ kind: 'tag', key: '' });
    expect(tagFilter('tag:a:b')).toEqual({ kind: 'tag', key: 'a:b' });
    expect(tagFilter('tag-key')).toEqual({ kind: 'tag-key' });
    expect(tagFilter('tag-value')).toEqual({ kind: 'tag-value' });
    for (const name of ['tag', 'tag-keys', 'Tag:Name', 'tags', 'key', 'constructor']) expect(tagFilter(name), name).toBeUndefined();
  });

  it('fieldOf takes only a table\'s own entries', () => {
    const table: Record<string, number> = { a: 1 };
    expect(fieldOf(table, 'a')).toBe(1);
    for (const name of ['constructor', '__proto__', 'toString', 'b']) expect(fieldOf(table, name), name).toBeUndefined();
  });

  it('invalidFilter is EC2\'s answer to an unknown filter', () => {
    const err = invalidFilter('x;y');
    expect(err.code).toBe('InvalidParameterValue');
    expect(err.message).toBe("The filter 'x;y' is invalid");
  });

  it('matches ORs the patterns and never matches a missing value', () => {
    expect(matches('abc', ['x', 'a*'])).toBe(true);
    expect(matches('abc', ['x', 'b*'])).toBe(false);
    expect(matches(undefined, ['*'])).toBe(false);
    expect(matches(null, ['*'])).toBe(false);
    expect(matches('', ['*'])).toBe(true);
  });

  it('byIds keeps the rows named, or names those that do not exist', () => {
    expect(ids(byIds(rows, [], 'InvalidAttachment.NotFound', 'thing'))).toEqual(['r-1', 'r-2', 'r-3']);
    expect(ids(byIds(rows, ['r-3', 'r-1'], 'InvalidAttachment.NotFound', 'thing'))).toEqual(['r-1', 'r-3']);
    const err = refusal(() => byIds(rows, ['r-1', 'r-9', 'r-8'], 'InvalidAttachment.NotFound', 'thing'));
    expect(err.code).toBe('InvalidAttachment.NotFound');
    expect(err.message).toBe("The thing 'r-9, r-8' does not exist");
  });
});
