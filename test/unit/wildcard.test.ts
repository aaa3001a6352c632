import { describe, expect, it } from 'vitest';
import { matches } from '../../src/cloud/filters.js';
import { compile, MatchBudgetExceeded, sqlMatch, withMatchBudget } from '../../src/wildcard.js';
import { withFilterBudget } from '../../src/cloud/filter-budget.js';
import { CloudError } from '../../src/cloud/errors.js';

const wildcardMatch = (p: string, v: string) => compile([p])(v);

describe('EC2 wildcard matching', () => {
  it('matches * (any run) and ? (one character) over the whole value, everything else literally', () => {
    const cases: [string, string, boolean][] = [
      ['web', 'web', true], ['web', 'webs', false], ['w?b', 'wxb', true], ['w?b', 'wb', false], ['*', '', true], ['', '', true],
      ['', 'a', false], ['a*', 'a', true], ['*a', 'ba', true], ['*a', 'ab', false], ['a*b*c', 'aXbYc', true], ['a*b*c', 'aXcYb', false],
      ['a*a', 'a', false], ['*ab*ab*', 'abab', true], ['*ab*ab*', 'aba', false], ['?*?', 'ab', true], ['?*?', 'a', false],
      ['.+^$()[]{}|\\', '.+^$()[]{}|\\', true], ['[a]', 'a', false], ['a**b', 'ab', true], ['*?a', 'xa', true], ['*?a', 'a', false],
    ];
    for (const [p, v, want] of cases) expect(wildcardMatch(p, v), `${p} ~ ${v}`).toBe(want);
    expect(matches(undefined, ['*'])).toBe(false);
    expect(matches('x', ['a', 'x'])).toBe(true);
  });

  it('answers at once where a backtracking matcher takes forever (18 s for *a*a*a*a*b over 200 characters)', () => {
    const value = 'a'.repeat(256);
    expect(wildcardMatch('*a'.repeat(40) + '*b', value)).toBe(false);
    expect(wildcardMatch('*a?'.repeat(40) + '*b', value)).toBe(false);
    expect(wildcardMatch('*' + 'a'.repeat(100) + '?b*', value)).toBe(false);
    expect(wildcardMatch('*a'.repeat(40) + '*', value)).toBe(true);
    // `?` segments longer than a 32-bit word (bit-parallel across words).
    expect(wildcardMatch('*' + 'a?'.repeat(40) + 'b*', 'x' + 'ab'.repeat(40) + 'b')).toBe(true);
    expect(wildcardMatch('*' + 'a?'.repeat(40) + 'b*', 'x' + 'ab'.repeat(39) + 'b')).toBe(false);
    expect(wildcardMatch('*' + 'a'.repeat(127) + '?b*', value)).toBe(false);
    expect(wildcardMatch('*' + 'a'.repeat(127) + '?b*', value + 'b')).toBe(true);
  });

  it('charges each request a budget, and refuses a request whose filters would take longer than it', async () => {
    const values = Array.from({ length: 5000 }, () => 'a'.repeat(256));
    const patterns = Array.from({ length: 200 }, (_, i) => '*' + 'a'.repeat(100 + (i % 27)) + '?b*');
    const m = compile(patterns);
    let err: unknown;
    try { withFilterBudget(() => values.forEach((v) => m(v))); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CloudError);
    expect((err as CloudError).code).toBe('InvalidParameterValue');
    // The matcher's own error, which the domain answers as above; and the same from what a handler awaits.
    expect(() => withMatchBudget(() => values.forEach((v) => m(v)))).toThrow(MatchBudgetExceeded);
    let later: unknown;
    await withFilterBudget(async () => { await Promise.resolve(); values.forEach((v) => m(v)); }).catch((e: unknown) => { later = e; });
    expect((later as CloudError).code).toBe('InvalidParameterValue');
    // An ordinary request is well within it.
    expect(withMatchBudget(() => values.filter((v) => compile(['a*', '*b', 'x?z'])(v)).length)).toBe(5000);
  });

  it('is what SQL calls: pcloud_match(value, patterns as JSON), 0 for anything not strings', () => {
    expect(sqlMatch('web-1', '["db*","web-?"]')).toBe(1);
    expect(sqlMatch('web-10', '["db*","web-?"]')).toBe(0);
    expect(sqlMatch(null, '["*"]')).toBe(0);
    expect(sqlMatch('x', '{"a":1}')).toBe(0);
    expect(sqlMatch('x', '[1]')).toBe(0);
  });
});
