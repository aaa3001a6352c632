/**
 * A function's reserved concurrency bounds its units: per request, the socket's connections, the forking parent's
 * children and the front's invokes at once are that many (never more than the host's bound; 0 keeps a valid unit of
 * one, which the domain never reaches: it throttles those invokes).
 */
import { describe, expect, it } from 'vitest';
import { FunctionHost, type FunctionUnitOptions } from '../../src/host/functions.js';
import type { UnitManager } from '../../src/host/units/types.js';

const base: FunctionUnitOptions = {
  key: '111122223333-hello-latest', functionName: 'hello', version: '$LATEST', arn: 'arn:aws:lambda:us-east-1:111122223333:function:hello',
  runtime: 'python3.12', handler: 'app.handler', codeDir: '/var/lib/pcloud/functions/x', memoryMiB: 128, timeoutSec: 3,
  environment: {}, mode: 'per-request', idleSec: 60, region: 'us-east-1',
};
const host = new FunctionHost({ kind: 'direct' } as UnitManager, '/var/lib/pcloud', '/run/pcloud', { concurrency: 10, cpuPercent: 100 });
const concurrencyArg = (exec: string[]) => exec.find((a) => a.startsWith('--concurrency='));

describe('reserved concurrency in function units', () => {
  it('bounds a forking (Python) unit: its connections and children', () => {
    expect([host.unit(base).socket?.maxConnections, concurrencyArg(host.unit(base).exec)]).toEqual([10, '--concurrency=10']);
    const reserved = host.unit({ ...base, reservedConcurrency: 3 });
    expect([reserved.socket?.maxConnections, concurrencyArg(reserved.exec)]).toEqual([3, '--concurrency=3']);
    expect(host.unit({ ...base, reservedConcurrency: 50 }).socket?.maxConnections).toBe(10);
    expect(host.unit({ ...base, reservedConcurrency: 0 }).socket?.maxConnections).toBe(1);
  });

  it('bounds a Node unit\'s front (the invokes it relays at once)', () => {
    const o = { ...base, runtime: 'nodejs20.x', handler: 'index.handler', reservedConcurrency: 2 };
    expect(concurrencyArg(host.frontUnit(o).exec)).toBe('--concurrency=2');
    expect(concurrencyArg(host.frontUnit({ ...o, reservedConcurrency: undefined }).exec)).toBe('--concurrency=10');
  });
});
