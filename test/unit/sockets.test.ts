import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { socketPath, SHORT_SOCKET_DIR } from '../../src/host/sockets.js';
import { FAST_TIER } from '../support/tier.js';

describe('socketPath', () => {
  it('keeps a path that fits in sun_path', () => {
    expect(socketPath('/var/lib/pcloud/run/lambda/000000000000-f-latest.sock')).toBe('/var/lib/pcloud/run/lambda/000000000000-f-latest.sock');
  });

  it.skipIf(FAST_TIER)('gives a longer one a stable short stand-in that bind() takes', async () => {
    const long = `/var/tmp/${'deep/'.repeat(20)}run/lambda/000000000000-${'n'.repeat(64)}-latest.sock`;
    const short = socketPath(long);
    expect(short.startsWith(`${SHORT_SOCKET_DIR}/`)).toBe(true);
    expect(socketPath(long)).toBe(short);
    expect(socketPath(`${long}x`)).not.toBe(short);
    const srv = createServer();
    await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(short, resolve); });
    await new Promise((r) => srv.close(r));
    rmSync(short, { force: true });
  });
});
