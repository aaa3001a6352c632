/**
 * What a host copies a moving volume from (src/host/iscsi.ts): another host's export URL is taken only in pcloud's own
 * form (a unicast IPv4 portal, a port, a volume id), whatever the state database holds; the nft guard in front of it
 * is rendered from those checked values only, and refuses anything else.
 */
import { describe, expect, it } from 'vitest';
import { copyGuardText, exportOf } from '../../src/host/iscsi.js';

describe('copying another host\'s export', () => {
  it('takes pcloud\'s own export URLs only', () => {
    expect(exportOf('iscsi://10.0.0.2:3260/iqn.2026-11.org.pcloud:vol-0123456789abcdef0/1'))
      .toEqual({ address: '10.0.0.2', port: 3260, volumeId: 'vol-0123456789abcdef0' });
    for (const hostile of [
      'iscsi://10.0.0.2:3260/iqn.2026-11.org.pcloud:vol-0123456789abcdef0/1; rm -rf /',
      'iscsi://10.0.0.2:3260/iqn.2026-11.org.pcloud:vol-01234567/1\n',
      'nfs://10.0.0.2/vol-0123456789abcdef0',
      'iscsi://127.0.0.1:3260/iqn.2026-11.org.pcloud:vol-0123456789abcdef0/1',
      'iscsi://224.0.0.1:3260/iqn.2026-11.org.pcloud:vol-0123456789abcdef0/1',
      'iscsi://10.0.0.2:0/iqn.2026-11.org.pcloud:vol-0123456789abcdef0/1',
      'iscsi://10.0.0.2:99999/iqn.2026-11.org.pcloud:vol-0123456789abcdef0/1',
      'iscsi://10.0.0.2:3260/iqn.2026-11.org.pcloud:vol-../../etc/1',
      'iscsi://host.example:3260/iqn.2026-11.org.pcloud:vol-0123456789abcdef0/1',
      'iscsi://user:pw@10.0.0.2:3260/iqn.2026-11.org.pcloud:vol-0123456789abcdef0/1',
    ]) expect(() => exportOf(hostile), hostile).toThrow();
  });

  it('renders the guard from a checked portal only', () => {
    const text = copyGuardText('10.0.0.2', 3260);
    expect(text).toContain('add element inet pcloud_iscsi_guard portals { 10.0.0.2 . 3260 }');
    expect(text).toContain('iifname "pu*" ip daddr . tcp dport @portals drop');
    expect(text).toContain('ip daddr . tcp dport @portals meta skuid != 0 drop');
    for (const [address, port] of [['10.0.0.2 }; flush ruleset; {', 3260], ['10.0.0.2', 3260.5], ['10.0.0.2', 0], ['127.0.0.1', 3260], ['::1', 3260]] as const) {
      expect(() => copyGuardText(address, port), `${address} ${port}`).toThrow();
    }
  });
});
