/** QEMU's and swtpm's option strings carry hostile values exactly, or refuse them. */
import { describe, expect, it } from 'vitest';
import { hostPath, OptionValueError, qemuFile, qemuOpts, swtpmOpts } from '../../src/host/qemu-opts.js';
import { firmwareFor, q35Args, tpmUnit, vmState } from '../../src/host/q35.js';
import { microvmArgs } from '../../src/host/qemu.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { thrown } from '../support/thrown.js';

/**
 * QEMU's reading of `kind,key=value,...` (util/qemu-option.c: a name ends at `=` or `,`; a value at a `,` that is not
 * doubled; a first item without `=` is the implied value). Pairs in order, the implied one under `firstname`.
 */
function qemuParse(s: string, firstname = 'kind'): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  const value = () => {
    let v = '';
    for (; i < s.length; i++) {
      if (s[i] === ',') {
        if (s[i + 1] !== ',') break;
        i++;
      }
      v += s[i];
    }
    i++; // the separating comma
    return v;
  };
  while (i < s.length) {
    const rest = s.slice(i);
    const len = rest.search(/[=,]/);
    if (len >= 0 && rest[len] === '=') {
      const name = rest.slice(0, len);
      i += len + 1;
      out.push([name, value()]);
    } else {
      out.push([out.length === 0 ? firstname : rest.slice(0, len < 0 ? undefined : len), value()]);
    }
  }
  return out;
}

/** swtpm 0.7's reading: split at every comma, a name up to the first `=`. */
const swtpmParse = (s: string) => s.split(',').map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)]);

const carried = Object.entries(HOSTILE).filter(([, v]) => v !== '');
const commas = { comma: 'a,b', injection: '/x,file=/etc/shadow,format=qcow2', doubled: 'a,,b,', leading: ',x', trailing: 'x,', only: ',' };

describe('qemuOpts', () => {
  it('carries every hostile value exactly, as one value of its own key', () => {
    for (const [name, v] of [...carried, ...Object.entries(commas)]) {
      const s = qemuOpts('socket', { id: 'x', path: v, server: true });
      expect(qemuParse(s), name).toEqual([['kind', 'socket'], ['id', 'x'], ['path', v], ['server', 'on']]);
    }
  });

  it('doubles commas and leaves everything else as it is', () => {
    expect(qemuOpts(undefined, { file: '/a,b=c,file=/etc/passwd', format: 'raw' })).toBe('file=/a,,b=c,,file=/etc/passwd,format=raw');
    expect(qemuOpts(undefined, { v: HOSTILE.newline! })).toBe(`v=${HOSTILE.newline}`);
    expect(qemuOpts('q35', { smm: false, vmport: false, unit: 0 })).toBe('q35,smm=off,vmport=off,unit=0');
    expect(qemuOpts(undefined, { a: 'x', b: undefined, c: 'y' })).toBe('a=x,c=y');
  });

  it('takes 100 KB values', () => {
    const v = `${'A,'.repeat(50 * 1024)}`;
    const s = qemuOpts(undefined, { file: v });
    expect(s.length).toBe(5 + 150 * 1024);
    expect(qemuParse(s)).toEqual([['file', v]]);
    expect(qemuParse(qemuOpts(undefined, { file: HOSTILE.bigHostile! }))).toEqual([['file', HOSTILE.bigHostile]]);
  });

  it('refuses what QEMU cannot take or would read otherwise', () => {
    for (const bad of [NUL, '', 'help', '?']) expect(() => qemuOpts(undefined, { file: bad }), JSON.stringify(bad)).toThrow(OptionValueError);
    // The implied first value: a plain name only (`{` would make -device read JSON, `=` a key).
    for (const kind of ['{"driver":"x"}', 'a=b', 'a,b', '', 'help', ' socket', 'x\ny']) expect(() => qemuOpts(kind, {}), kind).toThrow(OptionValueError);
    for (const key of ['File', 'a=b', 'a,b', '', '1x', 'x y']) expect(() => qemuOpts(undefined, { [key]: 'v' }), key).toThrow(OptionValueError);
    for (const n of [1.5, Number.NaN, Infinity, 2 ** 60]) expect(() => qemuOpts(undefined, { n }), String(n)).toThrow(OptionValueError);
    expect(() => qemuOpts(undefined, { file: NUL })).toThrow(/file=: a value with a NUL/);
    // The value itself (a host path) is never in the message: a launch's error reaches the tenant.
    expect(thrown(() => qemuOpts(undefined, { file: `/secret/dir${NUL}` }))).toHaveProperty('message', expect.not.stringContaining('/secret'));
    expect(thrown(() => swtpmOpts({ dir: '/secret,dir' }))).toHaveProperty('message', expect.not.stringContaining('/secret'));
    expect(thrown(() => qemuFile('secret/dir'))).toHaveProperty('message', expect.not.stringContaining('secret'));
  });
});

describe('swtpmOpts', () => {
  it('carries every hostile value without a comma exactly', () => {
    for (const [name, v] of carried) {
      expect(swtpmParse(swtpmOpts({ dir: v, mode: '0600' })), name).toEqual([['dir', v], ['mode', '0600']]);
    }
  });

  it('refuses a comma (swtpm has no escape for it), a leading {, NUL and the empty value', () => {
    for (const v of Object.values(commas)) expect(() => swtpmOpts({ dir: v }), v).toThrow(/swtpm's dir= cannot take a comma/);
    for (const v of ['{"a":1}', NUL, '', 'help']) expect(() => swtpmOpts({ dir: v }), JSON.stringify(v)).toThrow(OptionValueError);
  });
});

describe('paths', () => {
  it('takes absolute paths and the URLs pcloud serves disks with; refuses what QEMU would read as something else', () => {
    expect(hostPath('/a,b=c\nd')).toBe('/a,b=c\nd');
    expect(qemuFile('iscsi://10.0.0.1:3260/iqn.2026-01.pcloud:vol-1/1')).toBe('iscsi://10.0.0.1:3260/iqn.2026-01.pcloud:vol-1/1');
    expect(qemuFile('/var/lib/pcloud/disk.raw')).toBe('/var/lib/pcloud/disk.raw');
    for (const bad of ['disk.raw', 'nbd:localhost:10809', 'json:{"driver":"null-co"}', 'file:/etc/passwd', '/dev/fdset/1', `/a${NUL}`, '', 'http://x/y']) {
      expect(() => qemuFile(bad), bad).toThrow(OptionValueError);
    }
  });
});

describe('the generated command lines', () => {
  const dir = '/tmp/x,file=/etc/shadow,y=z';
  const state = { dir, vars: `${dir}/vars.fd`, tpmDir: `${dir}/tpm` };
  const q35 = () => q35Args({
    instanceId: 'i-0123456789abcdef2', vpcId: 'vpc-0123456789abcdef0', mac: '02:00:00:00:00:02', vcpus: 2, memoryMiB: 4096,
    uuid: 'ec2e0000-0000-0000-0000-000000000000', disk: `${dir}/i.raw`, firmware: firmwareFor('windows', dir), state,
    cdroms: [`${dir}/installer.iso`], volumes: [{ id: 'vol-1', uri: `${dir}/v.raw` }], runDir: dir, accel: 'tcg',
  });

  it('q35: every path is one value of its key (no option of its own)', () => {
    const args = q35();
    const opts = (flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [qemuParse(a)] : []));
    expect(opts('-drive').map((o) => o.filter(([k]) => k === 'file').map(([, v]) => v))).toEqual(
      [[`${dir}/OVMF_CODE_4M.secboot.fd`], [`${dir}/vars.fd`], [`${dir}/i.raw`], [`${dir}/v.raw`], [`${dir}/installer.iso`]]);
    expect(opts('-drive').flat().filter(([k]) => k === 'format').map(([, v]) => v)).toEqual(['raw', 'raw', 'raw', 'raw']);
    expect(opts('-chardev').map((o) => Object.fromEntries(o).path)).toEqual([`${dir}/tpm.sock`, `${dir}/qmp.sock`]);
    expect(opts('-vnc')).toEqual([[['vnc', `unix:${dir}/vnc.sock`]]]);
  });

  it('a path QEMU cannot take is refused before anything starts', () => {
    expect(() => q35Args({ ...q35Options(), disk: 'json:{"driver":"null-co"}' })).toThrow(OptionValueError);
    expect(() => microvmArgs({
      instanceId: 'i-0123456789abcdef1', vpcId: 'vpc-0123456789abcdef0', mac: '02:00:00:00:00:01', vcpus: 2, memoryMiB: 2048,
      artifacts: { kernel: 'vmlinux', initrd: '/p/initrd.img', disk: '/p/disk.raw' }, disk: '/p/i.raw', runDir: '/run/x', accel: 'tcg', readyTimeoutSec: 600,
    })).toThrow(/must be absolute/);
  });

  it("swtpm: a state directory or socket with a comma is refused (swtpm would read the rest as options of its own)", () => {
    expect(() => tpmUnit({ instanceId: 'i-0123456789abcdef2', state, runDir: '/run/x' })).toThrow(/swtpm's dir= cannot take a comma/);
    expect(() => tpmUnit({ instanceId: 'i-0123456789abcdef2', state: vmState('/p/i.state'), runDir: dir })).toThrow(/swtpm's path= cannot take a comma/);
    expect(tpmUnit({ instanceId: 'i-0123456789abcdef2', state: vmState('/p/i=x;{$%"\'.state'), runDir: '/run/x' }).exec)
      .toContain('dir=/p/i=x;{$%"\'.state/tpm,mode=0600');
  });

  function q35Options() {
    return {
      instanceId: 'i-0123456789abcdef2', vpcId: 'vpc-0123456789abcdef0', mac: '02:00:00:00:00:02', vcpus: 2, memoryMiB: 4096,
      uuid: 'ec2e0000-0000-0000-0000-000000000000', disk: '/p/i.raw', firmware: firmwareFor('linux'), state: vmState('/p/i.state'),
      cdroms: [], runDir: '/run/x', accel: 'tcg' as const,
    };
  }
});
