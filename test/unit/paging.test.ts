import { describe, expect, it } from 'vitest';
import { pageOf, pageOffset, pageToken } from '../../src/cloud/paging.js';
import { thrown } from '../support/thrown.js';

describe('paging', () => {
  const all = Array.from({ length: 7 }, (_, i) => i);

  it('walks a list page by page with the tokens it hands out', () => {
    const seen: number[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = pageOf(all, { max: 3, token });
      seen.push(...page.items);
      token = page.nextToken;
      pages++;
    } while (token);
    expect(seen).toEqual(all);
    expect(pages).toBe(3);
  });

  it('gives everything without a page size, and no token after the last page', () => {
    expect(pageOf(all, {})).toEqual({ items: all });
    expect(pageOf(all, { max: 7 })).toEqual({ items: all });
  });

  it('refuses forged tokens with the service code', () => {
    for (const bad of ['x', pageToken(-1), Buffer.from('{"o":1e12}').toString('base64url'), Buffer.from('null').toString('base64url')]) {
      expect(thrown(() => pageOffset(bad))).toMatchObject({ code: 'InvalidPaginationToken' });
    }
    expect(thrown(() => pageOffset('x', 'InvalidParameterValueException'))).toMatchObject({ code: 'InvalidParameterValueException' });
  });
});
