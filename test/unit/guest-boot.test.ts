/** The guest protocol's host side: what a guest's message says, and what the unit manager is told at each stage. */
import { describe, expect, it } from 'vitest';
import { BootState, MAX_GUEST_MESSAGE, parseGuest } from '../../src/host/guest-boot.js';
import { HOSTILE, NUL } from '../support/hostile.js';

function boot(): { state: BootState; sent: string[] } {
  const sent: string[] = [];
  return { state: new BootState((m) => sent.push(m)), sent };
}

describe('parseGuest', () => {
  it('reads READY=1 and X_PCLOUD_BOOT with a known value; nothing else', () => {
    expect(parseGuest('READY=1\nX_PCLOUD_BOOT=initializing\n')).toEqual({ ready: true, boot: 'initializing' });
    expect(parseGuest(Buffer.from('X_PCLOUD_BOOT=ok'))).toEqual({ ready: false, boot: 'ok' });
    expect(parseGuest('READY=1\r\nX_PCLOUD_BOOT=impaired\r\n')).toEqual({ ready: true, boot: 'impaired' });
    for (const bad of ['READY=0', 'READY=1 ', ' READY=1', 'MAINPID=1', 'STATUS=ok', 'X_PCLOUD_BOOT=OK', 'X_PCLOUD_BOOT=ok;rm', 'X_PCLOUD_BOOT=', 'X_NSPAWN_LEADER_PID=1']) {
      expect(parseGuest(bad), bad).toEqual({ ready: false });
    }
    for (const [name, v] of Object.entries({ ...HOSTILE, NUL })) {
      expect(parseGuest(`X_PCLOUD_BOOT=${v}`), name).toEqual({ ready: false });
    }
  });

  it('ignores a message longer than the bound entirely', () => {
    const long = `READY=1\nX_PCLOUD_BOOT=ok\n${'A'.repeat(MAX_GUEST_MESSAGE)}`;
    expect(parseGuest(long)).toEqual({ ready: false });
  });
});

describe('BootState', () => {
  it('protocol: running on the guest\'s READY=1, then its final word once', () => {
    const { state, sent } = boot();
    state.begin();
    state.guest(parseGuest('X_PCLOUD_BOOT=initializing'));
    expect(sent).toEqual(['STATUS=starting']);
    state.guest(parseGuest('READY=1\nX_PCLOUD_BOOT=initializing'));
    state.guest(parseGuest('READY=1\nX_PCLOUD_BOOT=initializing'));
    expect(state.current).toEqual({ ready: true, status: 'running' });
    state.guest(parseGuest('X_PCLOUD_BOOT=ok'));
    state.guest(parseGuest('X_PCLOUD_BOOT=impaired'));
    state.initReady(true);
    expect(sent).toEqual(['STATUS=starting', 'READY=1\nSTATUS=running', 'STATUS=ok']);
  });

  it('protocol: impaired is final too', () => {
    const { state, sent } = boot();
    state.guest(parseGuest('READY=1\nX_PCLOUD_BOOT=initializing'));
    state.guest(parseGuest('X_PCLOUD_BOOT=impaired'));
    state.guest(parseGuest('X_PCLOUD_BOOT=ok'));
    expect(sent).toEqual(['READY=1\nSTATUS=running', 'STATUS=impaired']);
  });

  it('a final word before READY=1 is kept for it', () => {
    const { state, sent } = boot();
    state.guest(parseGuest('X_PCLOUD_BOOT=ok'));
    state.guest(parseGuest('READY=1'));
    expect(sent).toEqual(['READY=1\nSTATUS=ok']);
  });

  it('a guest\'s READY=1 with no X_PCLOUD_BOOT ever is an image from before the protocol: ok at once', () => {
    const { state, sent } = boot();
    state.guest(parseGuest('READY=1'));
    expect(sent).toEqual(['READY=1\nSTATUS=ok']);
  });

  it('the container\'s init ready: ok for an image without the protocol; running only, for one with it', () => {
    const legacy = boot();
    legacy.state.initReady(false);
    legacy.state.initReady(false);
    expect(legacy.sent).toEqual(['READY=1\nSTATUS=ok']);
    const speaks = boot();
    speaks.state.initReady(true);
    speaks.state.guest(parseGuest('READY=1\nX_PCLOUD_BOOT=initializing'));
    speaks.state.guest(parseGuest('X_PCLOUD_BOOT=ok'));
    expect(speaks.sent).toEqual(['READY=1\nSTATUS=running', 'STATUS=ok']);
  });
});
