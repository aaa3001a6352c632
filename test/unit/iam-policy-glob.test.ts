import { describe, expect, it } from 'vitest';
import { glob, globMatch, joinGlob } from '../../src/cloud/iam/policy/glob.js';
import { arnGlob, arnMatch } from '../../src/cloud/iam/policy/arn.js';
import { template, resolve } from '../../src/cloud/iam/policy/template.js';

const m = (p: string, v: string) => globMatch(glob(p), v);

describe('the policy wildcard matcher', () => {
  it('matches * (any run) and ? (one character) over the whole value, everything else literally', () => {
    const cases: [string, string, boolean][] = [
      ['web', 'web', true], ['web', 'webs', false], ['w?b', 'wxb', true], ['w?b', 'wb', false], ['*', '', true], ['', '', true],
      ['', 'a', false], ['a*', 'a', true], ['*a', 'ba', true], ['*a', 'ab', false], ['a*b*c', 'aXbYc', true], ['a*b*c', 'aXcYb', false],
      ['a*a', 'a', false], ['*ab*ab*', 'abab', true], ['*ab*ab*', 'aba', false], ['?*?', 'ab', true], ['?*?', 'a', false],
      ['.+^$()[]{}|\\', '.+^$()[]{}|\\', true], ['[a]', 'a', false], ['a**b', 'ab', true], ['*?a', 'xa', true], ['*?a', 'a', false],
      ['ec2:describe*', 'ec2:describeinstances', true], ['ec2:describe*', 'ec2:runinstances', false],
    ];
    for (const [p, v, want] of cases) expect(m(p, v), `${p} ~ ${v}`).toBe(want);
  });

  it('is bounded: a*a*a*…b against a long run of a answers at once (no exponential backtracking)', () => {
    const value = 'a'.repeat(20_000);
    expect(m('*a'.repeat(60) + '*b', value)).toBe(false);
    expect(m('a*'.repeat(60) + 'b', value)).toBe(false);
    expect(m('*a?'.repeat(60) + '*b', value)).toBe(false);
    expect(m('*a'.repeat(60) + '*', value)).toBe(true);
    // Bounded by |pattern|·|value| steps (about a million here); a backtracking matcher would not finish.
  });

  it('a literal part (a policy variable\'s value) never acts as a wildcard', () => {
    const g = joinGlob([{ text: 'user/', literal: false }, { text: '*', literal: true }]);
    expect(globMatch(g, 'user/*')).toBe(true);
    expect(globMatch(g, 'user/alice')).toBe(false);
    const t = template('home/${aws:username}/*', true);
    const r = resolve(t, (k) => (k === 'aws:username' ? 'a?' : undefined))!;
    expect(globMatch(r, 'home/a?/x')).toBe(true);
    expect(globMatch(r, 'home/ab/x')).toBe(false);
    expect(resolve(t, () => undefined)).toBeUndefined();
    expect(template('${aws:username}', false).fixed!.text).toBe('${aws:username}');
    expect(resolve(template('${$}{x}${?}', true), () => undefined)).toEqual({ text: '${x}?', wild: null });
  });

  it('ARNs part by part', () => {
    const a = 'arn:aws:ec2:us-east-1:123456789012:instance/i-1';
    expect(arnMatch(arnGlob(glob('arn:aws:ec2:*:*:instance/*')), a)).toBe(true);
    expect(arnMatch(arnGlob(glob('arn:aws:ec2:*:instance/*')), a)).toBe(false);
    expect(arnMatch(arnGlob(glob('arn:aws:ec2:us-east-1:123456789012:instance/i-?')), a)).toBe(true);
    expect(arnMatch(arnGlob(glob('*')), a)).toBe(true);
    expect(arnMatch(arnGlob(glob('arn:aws:ec2:us-east-1:123456789012:*')), 'arn:aws:ec2:us-east-1:123456789012:a:b:c')).toBe(true);
  });
});
