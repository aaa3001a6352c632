import { describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { refuse } from '../../src/api/console/vnc.js';

describe('console upgrade refusals', () => {
  it('write one status line whatever the reason holds (CR, LF, NUL, controls, non-ASCII)', () => {
    let written = '';
    refuse({ end: (s: string) => { written = s; } } as unknown as Duplex, 401, 'Unauthorized (X-Amz-Date 2026\r\nSet-Cookie: a=b\0\x1b é)');
    const [status, ...rest] = written.split('\r\n');
    expect(status).toBe('HTTP/1.1 401 Unauthorized (X-Amz-Date 2026  Set-Cookie: a=b    )');
    expect(rest).toEqual(['Connection: close', 'Content-Length: 0', '', '']);
  });
});
