/**
 * A function's systemd units (its description, host.unit(), rendered by units/socket-units.ts) carry the tenant's environment
 * exactly: each variable one assignment with its bytes, whatever they are, as systemd's own parser reads the file.
 */
import { describe, expect, it } from 'vitest';
import { FunctionHost, type FunctionUnitOptions } from '../../src/host/functions.js';
import { lambdaEnvironment } from '../../src/host/function-runtime.js';
import { renderSocketUnits } from '../../src/host/units/socket-units.js';
import type { UnitManager } from '../../src/host/units/types.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { between, decodeCommandLine, systemdDump } from '../support/systemd-dump.js';
import { FAST_TIER } from '../support/tier.js';

const base: FunctionUnitOptions = {
  key: '111122223333-hello-1', functionName: 'hello', version: '1', arn: 'arn:aws:lambda:us-east-1:111122223333:function:hello',
  runtime: 'nodejs20.x', handler: 'index.handler', codeDir: '/var/lib/pcloud/functions/x', memoryMiB: 256, timeoutSec: 3,
  environment: {}, mode: 'warm', idleSec: 60, region: 'us-east-1',
};

const host = new FunctionHost({ kind: 'systemd' } as UnitManager, '/var/lib/pcloud', '/run/pcloud');
const systemdFunctionUnits = (o: FunctionUnitOptions) => renderSocketUnits(host.unit(o));

describe('function units under systemd', () => {
  it.skipIf(FAST_TIER)('carry a hostile environment exactly, and the handler argument exactly', () => {
    const environment = Object.fromEntries(Object.entries(HOSTILE).map(([k, v]) => [`V_${k}`, v]));
    const o = { ...base, environment, handler: HOSTILE.newline! };
    const units = systemdFunctionUnits(o);
    const dump = systemdDump(units.service.file, units.service.text);
    expect(between(dump, '\t\tProcSubset: all\n', '\t\tRuntimeDirectoryPreserve:')).toBe(
      Object.entries(lambdaEnvironment(o)).map(([k, v]) => `\t\tEnvironment: ${k}=${v}\n`).join(''));
    expect(decodeCommandLine(between(dump, '\t\t\tCommand Line: ', '\n\t\t')).map((w) => w.replaceAll('$$', '$'))).toContain(`--handler=${HOSTILE.newline}`);
    expect(dump).not.toContain('\t\t-> ExecStartPre:');
    expect(dump).toMatch(/\n\t\tDynamicUser: yes\n/);
  });

  it('refuse what a unit file cannot carry', () => {
    expect(() => systemdFunctionUnits({ ...base, environment: { A: NUL } })).toThrow(/NUL/);
  });
});
