/** The expressions the two databases write differently (src/db/sql.ts): EC2's wildcards as PostgreSQL LIKE patterns. */
import { describe, expect, it } from 'vitest';
import { likePattern } from '../../src/db/sql.js';

describe('EC2 filter wildcards as LIKE', () => {
  it('turns * and ? into % and _, and escapes LIKE\'s own % and _ and the escape itself with !', () => {
    expect(likePattern('web*')).toBe('web%');
    expect(likePattern('web?1')).toBe('web_1');
    expect(likePattern('web_1%')).toBe('web!_1!%');
    expect(likePattern('a!b\\c*')).toBe('a!!b\\c%');
    expect(likePattern('')).toBe('');
  });
});
