/**
 * `pcloud host list`'s table (src/cli/host.ts): a host's name and zone come from whoever joined it, so each cell is
 * made safe as ps's are (table.ts): nothing a terminal acts on, nothing that breaks a line or a column.
 */
import { describe, expect, it } from 'vitest';
import { hostsTable } from '../../src/cli/host.js';
import type { HostView } from '../../src/cloud/hosts/view.js';
import { HOSTILE } from '../support/hostile.js';

const view = (name: string): HostView => ({
  id: 'h-0123456789abcdef0', name, availabilityZone: `us-east-1a${name}`, address: null, state: 'available', lost: false,
  runtimes: ['container'], accel: 'tcg', vcpus: { used: 1, total: 2, limit: 4 }, memoryMiB: { used: 512, total: 1024, limit: 1536 },
  instances: 1, heartbeatAgeSec: 3,
});

describe('pcloud host list', () => {
  it('prints one line of ten columns per host, whatever its name holds, with no control or format character', () => {
    const names = [...Object.values(HOSTILE), '\u202egnp.exe', '\u001b]8;;http://x\u0007link\u001b]8;;\u0007', 'a\u0085b\u2028c'];
    const lines = hostsTable(names.map(view)).split('\n');
    expect(lines).toHaveLength(names.length + 1);
    for (const line of lines) {
      expect(line.split('\t')).toHaveLength(10);
      expect(line.replaceAll('\t', '')).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
    }
    expect(lines[1]!.split('\t')[1]).toBe(HOSTILE.newline!.replaceAll('\n', '?'));
  });
});
