/** Finding an installed program (exec.ts which): a file name searched for, never a shell command. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { which } from '../../src/host/exec.js';

describe('which', () => {
  it('finds an installed program by name, not a missing one or a directory', async () => {
    expect(await which('sh')).toMatch(/^\/.*\/sh$/);
    expect(await which('no-such-program-pcloud')).toBeUndefined();
    expect(await which('X11')).toBeUndefined();
  });

  it.each(['sh; touch /tmp/pcloud-which-ran', '$(touch /tmp/pcloud-which-ran)', '../bin/sh', '/bin/sh', '', '-v', 'sh\nid'])(
    'refuses %j without running anything', async (bad) => {
      await expect(which(bad)).rejects.toThrow('not a program name');
      expect(existsSync('/tmp/pcloud-which-ran')).toBe(false);
    });
});
