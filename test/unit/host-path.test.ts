/** The one rule for host paths written unquoted into unit files and dnsmasq's configuration. */
import { describe, expect, it } from 'vitest';
import { isPlainPath } from '../../src/host/host-path.js';

describe('isPlainPath', () => {
  it('takes absolute paths of letters, digits and /._@+-', () => {
    for (const p of ['/', '/var/lib/pcloud', '/run/pcloud/lambda/111122223333-hello-latest.sock', '/a/b@c+d_e.f-g']) expect([p, isPlainPath(p)]).toEqual([p, true]);
  });

  it('refuses relative paths and anything a format could read as more (newline, ;, {, }, $, %, quotes, NUL, space)', () => {
    for (const p of ['', 'var/lib', '/a\nb', '/a;b', '/a{b', '/a}b', '/a$b', '/a%b', '/a"b', "/a'b", '/a\0b', '/a b', '/a\\b', '/é']) {
      expect([p, isPlainPath(p)]).toEqual([p, false]);
    }
  });
});
