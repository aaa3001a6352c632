/**
 * The host's settings from the environment (src/host/config.ts): README's defaults with nothing set, each variable
 * heeded, and a value that cannot be used refused in one line naming the variable. And they reach the drivers: a
 * function unit's limits and interpreter come from them, not from the environment.
 */
import { describe, expect, it } from 'vitest';
import { hostConfigFromEnv } from '../../src/host/config.js';
import { FunctionHost } from '../../src/host/functions.js';
import type { FunctionUnitOptions } from '../../src/host/index.js';
import type { UnitManager } from '../../src/host/units/types.js';

describe('hostConfigFromEnv', () => {
  it('has the documented defaults when nothing is set', () => {
    expect(hostConfigFromEnv({})).toEqual({
      unitManager: undefined, systemdUnitDir: undefined, consoleLogBytes: 1024 * 1024, sandboxUidDir: '/run/pcloud/uids',
      ovmfDir: '/usr/share/OVMF', virtioWinIso: '/usr/share/virtio-win/virtio-win.iso', debianMirror: undefined,
      lambdaConcurrency: 100, lambdaCpuPercent: 100, python: undefined, dnsUpstream: [], nfsPort: 2049, iscsiPort: 3260,
      iscsiControlPort: 7,
    });
  });

  it('heeds every variable', () => {
    expect(hostConfigFromEnv({
      PCLOUD_UNIT_MANAGER: 'direct', PCLOUD_SYSTEMD_UNIT_DIR: '/tmp/units', PCLOUD_CONSOLE_LOG_BYTES: '65536',
      PCLOUD_SANDBOX_UID_DIR: '/tmp/uids', PCLOUD_OVMF_DIR: '/opt/ovmf', PCLOUD_VIRTIO_WIN_ISO: '/opt/virtio.iso',
      PCLOUD_DEBIAN_MIRROR: 'http://mirror.example/debian', PCLOUD_LAMBDA_CONCURRENCY: '8', PCLOUD_LAMBDA_CPU_PERCENT: '50',
      PCLOUD_PYTHON: '/opt/python3', PCLOUD_DNS_UPSTREAM: ' 9.9.9.9, 1.1.1.1 ,', PCLOUD_NFS_PORT: '12057',
      PCLOUD_ISCSI_PORT: '13277', PCLOUD_ISCSI_CONTROL_PORT: '37',
    })).toEqual({
      unitManager: 'direct', systemdUnitDir: '/tmp/units', consoleLogBytes: 65536, sandboxUidDir: '/tmp/uids',
      ovmfDir: '/opt/ovmf', virtioWinIso: '/opt/virtio.iso', debianMirror: 'http://mirror.example/debian',
      lambdaConcurrency: 8, lambdaCpuPercent: 50, python: '/opt/python3', dnsUpstream: ['9.9.9.9', '1.1.1.1'],
      nfsPort: 12057, iscsiPort: 13277, iscsiControlPort: 37,
    });
    expect(hostConfigFromEnv({ PCLOUD_UNIT_MANAGER: 'systemd' }).unitManager).toBe('systemd');
    // Empty is unset, as before.
    expect(hostConfigFromEnv({ PCLOUD_DEBIAN_MIRROR: '', PCLOUD_NFS_PORT: '' })).toMatchObject({ debianMirror: undefined, nfsPort: 2049 });
  });

  it('refuses what it cannot use, in one line naming the variable', () => {
    const refused: [Record<string, string>, RegExp][] = [
      [{ PCLOUD_UNIT_MANAGER: 'init' }, /^PCLOUD_UNIT_MANAGER="init": expected systemd or direct$/],
      [{ PCLOUD_CONSOLE_LOG_BYTES: '100' }, /^PCLOUD_CONSOLE_LOG_BYTES=.*at least 4096$/],
      [{ PCLOUD_LAMBDA_CONCURRENCY: '0' }, /^PCLOUD_LAMBDA_CONCURRENCY must be a whole number from 1 to/],
      [{ PCLOUD_LAMBDA_CPU_PERCENT: 'lots' }, /^PCLOUD_LAMBDA_CPU_PERCENT must be a whole number from 1 to/],
      [{ PCLOUD_NFS_PORT: '65536' }, /^PCLOUD_NFS_PORT must be a whole number from 1 to 65535, not "65536"$/],
      [{ PCLOUD_ISCSI_PORT: '-1' }, /^PCLOUD_ISCSI_PORT must be/],
      [{ PCLOUD_ISCSI_CONTROL_PORT: '7.5' }, /^PCLOUD_ISCSI_CONTROL_PORT must be a whole number from 0 to 65535/],
      [{ PCLOUD_NFS_PORT: `1\n${'9'.repeat(100_000)}` }, /^PCLOUD_NFS_PORT must be [^\n]{0,120}$/],
      [{ PCLOUD_UNIT_MANAGER: 'direct\n;{}$%\0' }, /^PCLOUD_UNIT_MANAGER="direct\\n;\{\}\$%\\u0000": expected/],
    ];
    for (const [env, why] of refused) {
      expect(() => hostConfigFromEnv(env), JSON.stringify(env).slice(0, 60)).toThrow(why);
    }
  });
});

describe('a joined host\'s control plane and key (PCLOUD_CONTROL_URL, PCLOUD_HOST_KEY)', () => {
  const key = `pcloud-host-${'k'.repeat(43)}`;

  it('takes both, or neither', () => {
    expect(hostConfigFromEnv({ PCLOUD_CONTROL_URL: 'http://192.168.213.254:8773', PCLOUD_HOST_KEY: key }))
      .toMatchObject({ controlUrl: 'http://192.168.213.254:8773', hostKey: key });
    expect(hostConfigFromEnv({})).toMatchObject({ controlUrl: undefined, hostKey: undefined });
  });

  it('refuses one without the other, a URL that is not an API\'s, and a key that is not one, never echoing the key', () => {
    const refused: [Record<string, string>, RegExp][] = [
      [{ PCLOUD_CONTROL_URL: 'http://cp:8773' }, /^PCLOUD_CONTROL_URL and PCLOUD_HOST_KEY go together/],
      [{ PCLOUD_HOST_KEY: key }, /^PCLOUD_CONTROL_URL and PCLOUD_HOST_KEY go together/],
      [{ PCLOUD_CONTROL_URL: 'ftp://cp/', PCLOUD_HOST_KEY: key }, /^PCLOUD_CONTROL_URL="ftp:\/\/cp\/": expected the control plane's API URL/],
      [{ PCLOUD_CONTROL_URL: 'http://user:pw@cp:8773', PCLOUD_HOST_KEY: key }, /^PCLOUD_CONTROL_URL=.*: expected/],
      [{ PCLOUD_CONTROL_URL: 'not a url', PCLOUD_HOST_KEY: key }, /^PCLOUD_CONTROL_URL="not a url": expected/],
      [{ PCLOUD_CONTROL_URL: 'http://cp:8773', PCLOUD_HOST_KEY: `${key}\nX` }, /^PCLOUD_HOST_KEY is not a host key \(pcloud-host-…\): join again/],
      [{ PCLOUD_CONTROL_URL: 'http://cp:8773', PCLOUD_HOST_KEY: 'pcloud-join-secret' }, /^PCLOUD_HOST_KEY is not a host key/],
    ];
    for (const [env, why] of refused) {
      expect(() => hostConfigFromEnv(env), JSON.stringify(env).slice(0, 60)).toThrow(why);
      expect(() => hostConfigFromEnv(env)).not.toThrow(/kkkk|secret/);
    }
  });
});

describe('settings reach the drivers', () => {
  const o: FunctionUnitOptions = {
    key: '111122223333-hello-latest', functionName: 'hello', version: '$LATEST', arn: 'arn:aws:lambda:us-east-1:111122223333:function:hello',
    runtime: 'python3.11', handler: 'app.handler', codeDir: '/data/functions/x', memoryMiB: 128, timeoutSec: 3, environment: {},
    mode: 'per-request', idleSec: 60, region: 'us-east-1',
  };
  const units = {} as UnitManager; // unit() renders only: the manager is never asked

  it("a function unit's limits and interpreter are the host config's", () => {
    const config = hostConfigFromEnv({ PCLOUD_LAMBDA_CONCURRENCY: '3', PCLOUD_LAMBDA_CPU_PERCENT: '40', PCLOUD_PYTHON: '/opt/py/bin/python3' });
    const spec = new FunctionHost(units, '/data', '/data/run', {
      concurrency: config.lambdaConcurrency, cpuPercent: config.lambdaCpuPercent, python: config.python,
    }).unit(o);
    expect(spec.exec[0]).toBe('/opt/py/bin/python3');
    expect(spec.limits).toEqual({ memoryMaxBytes: (128 * 3 + 64) * 2 ** 20, tasksMax: 64 * 3, cpuQuotaPercent: 40 });
    expect(spec.socket).toMatchObject({ maxConnections: 3, serviceLimits: { cpuQuotaPercent: 40 } });
    expect(spec.sandbox?.readOnly).toContain('/opt/py');
  });
});
