/**
 * Seeded generators of hostile requests for the fuzz suite: the same seed gives the same requests, so a failure is
 * replayed by its seed and index.
 */

/** mulberry32: a small, fast, seeded PRNG (deterministic across runs and machines). */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
  return r;
}

export interface Rng {
  next(): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
}

/** Strings that broke pcloud before (issue 12) or break parsers and renderers in general. */
export const HOSTILE = [
  '', ' ', '\0', 'a\0b', '\x01\x02\x1b[31m', '\uffff', '\ud800', '\udfff\ud800', '\t\n\r', '%zz', '%', '%E0%A4%A', '%00',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__',
  '*a*a*a*a*a*a*a*a*a*a*a*a*b', '*?*?*?*?*?*?*?*?*?*?x', '[a-z]*', '\\', '\\*', '.*', '(a+)+$', '^', '$', '$(id)', '`id`', ';', '{', '}',
  '{{x}}', '${x}', '%s%n%x', '"', "'", '<', '>', '&amp;', ']]>', '<![CDATA[', '\u202e', '😀', '\u{10ffff}', 'ﬀ',
  'null', 'undefined', 'NaN', 'Infinity', '-1', '0', '1e308', '9007199254740993', '-0', '0x10', '1.5', 'true', 'false',
  '../../../etc/passwd', '/etc/shadow', '..', '.', '//', 'a/b', 'a b', 'i-', 'i-00000000000000000', 'ami-', 'vol-x', 'sg-',
  'arn:aws:lambda:us-east-1:111111111111:function:x:$LATEST', 'arn:aws:lambda:us-east-1:222222222222:function:f',
  'x'.repeat(256), 'x'.repeat(257), 'x'.repeat(4096), 'a'.repeat(200),
];

export function hostile(r: Rng): string {
  switch (r.int(6)) {
    case 0: return r.pick(HOSTILE) + r.pick(HOSTILE);
    case 1: return Array.from({ length: r.int(40) }, () => String.fromCharCode(r.int(0x80))).join('');
    case 2: return Array.from({ length: r.int(20) }, () => String.fromCharCode(r.int(0x10000))).join('');
    case 3: return String(r.pick([r.int(10), -r.int(1e6), r.int(2 ** 31), 2 ** 53 + r.int(9), r.next() * 1e300]));
    default: return r.pick(HOSTILE);
  }
}

/** Form-encodes, except that now and then a raw (undecodable or unencoded) piece goes through as is. */
export function formPart(r: Rng, s: string): string {
  if (r.chance(0.05)) return r.pick(['%zz', '%', '%E0%A4%A', '+%2', '&&', '==', '%00', s]);
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}
