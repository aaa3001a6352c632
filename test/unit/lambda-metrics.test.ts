/**
 * Lambda's series (src/metrics/lambda.ts) and where they come from: the function label bounded (the first N functions
 * by ACCOUNT:NAME, then `other`; a name not spelled as Lambda spells them is `other` too, whatever it holds), the
 * invocation counts kept per function for a bounded number of functions (invocation-stats.ts), and nginx's report
 * lines read exactly (invocation-log.ts: anything else is dropped, the runtime's cold-start word compared whole).
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { FunctionLabels, lambdaMetrics, OTHER } from '../../src/metrics/lambda.js';
import { InvocationStats, type Invocation } from '../../src/cloud/functions/invocation-stats.js';
import { invocationLogPath, parseInvocationLine } from '../../src/host/invocation-log.js';
import { SHORT_SOCKET_DIR } from '../../src/host/sockets.js';
import { HOSTILE } from '../support/hostile.js';

const A = '111111111111';
const call = (name: string, over: Partial<Invocation> = {}): Invocation => ({
  accountId: A, name, mode: 'warm', status: 200, seconds: 0.02, coldStart: false, via: 'api', ...over,
});

describe('the function label', () => {
  it('is ACCOUNT:NAME for the first functions, then other; a function keeps the label it was given', () => {
    const labels = new FunctionLabels(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((n) => labels.of(A, n))).toEqual([`${A}:a`, `${A}:b`, `${A}:c`, OTHER, OTHER]);
    expect(labels.of(A, 'b')).toBe(`${A}:b`);
    expect(labels.of('222222222222', 'a')).toBe(OTHER);
  });

  it('is other for anything not spelled as Lambda spells accounts and names, taking no place', () => {
    const labels = new FunctionLabels(1);
    for (const v of [...Object.values(HOSTILE), '<script>alert(1)</script>', 'a'.repeat(65), 'ünïcode', 'a:b', 'a/b']) {
      expect(labels.of(A, v), JSON.stringify(v.slice(0, 20))).toBe(OTHER);
      expect(labels.of(v, 'fn')).toBe(OTHER);
    }
    expect(labels.of(A, 'fn')).toBe(`${A}:fn`);
  });
});

describe('the series', () => {
  it('count invocations by function and mode, cold starts, durations; past the bound, under other', async () => {
    const registry = new Registry();
    const stats = new InvocationStats();
    const stop = lambdaMetrics(registry, stats, 2);
    stats.record(call('one', { coldStart: true, seconds: 0.3 }));
    stats.record(call('one'));
    stats.record(call('two', { mode: 'per-request', coldStart: true, via: 'nginx' }));
    for (let i = 0; i < 50; i++) stats.record(call(`many-${i}`, { coldStart: true }));
    const text = await registry.metrics();
    expect(text).toContain(`pcloud_lambda_invocations_total{function="${A}:one",mode="warm"} 2`);
    expect(text).toContain(`pcloud_lambda_invocations_total{function="${A}:two",mode="per-request"} 1`);
    expect(text).toContain(`pcloud_lambda_invocations_total{function="other",mode="warm"} 50`);
    expect(text).toContain(`pcloud_lambda_cold_starts_total{function="${A}:one"} 1`);
    expect(text).toContain(`pcloud_lambda_cold_starts_total{function="other"} 50`);
    expect(text).toContain(`pcloud_lambda_duration_seconds_count{function="${A}:one"} 2`);
    expect(text).toContain(`pcloud_lambda_duration_seconds_bucket{le="0.5",function="${A}:one"} 2`);
    expect(text).toContain(`pcloud_lambda_duration_seconds_bucket{le="0.25",function="${A}:one"} 1`);
    // Three function label values, however many functions were invoked.
    expect(new Set([...text.matchAll(/function="([^"]*)"/g)].map((m) => m[1]))).toEqual(new Set([`${A}:one`, `${A}:two`, OTHER]));
    stop();
    stats.record(call('one'));
    expect(await registry.metrics()).toContain(`pcloud_lambda_invocations_total{function="${A}:one",mode="warm"} 2`);
  });
});

describe('the counts per function', () => {
  it('are kept for the most recently invoked functions only', () => {
    const stats = new InvocationStats(3);
    for (const n of ['a', 'b', 'c']) stats.record(call(n), 1000);
    stats.record(call('a', { coldStart: true }), 2000);
    stats.record(call('d', { mode: 'per-request' }), 3000);
    expect(stats.of(A, 'b')).toBeUndefined();
    expect(stats.of(A, 'a')).toEqual({ invocations: 2, coldStarts: 1, lastAt: 2000, mode: 'warm' });
    expect(stats.of(A, 'd')).toEqual({ invocations: 1, coldStarts: 0, lastAt: 3000, mode: 'per-request' });
    expect(stats.of('222222222222', 'a')).toBeUndefined();
  });

  it('a listener that throws stops neither the count nor the next listener', () => {
    const stats = new InvocationStats();
    const seen: string[] = [];
    stats.onInvocation(() => { throw new Error('boom'); });
    stats.onInvocation((i) => seen.push(i.name));
    stats.record(call('x'));
    expect(seen).toEqual(['x']);
    expect(stats.of(A, 'x')?.invocations).toBe(1);
  });
});

describe("nginx's report lines", () => {
  const line = (msg: string) => `<190>Nov  1 12:34:56 pcloud_invocation: ${msg}`;

  it('read as nginx writes them: the socket\'s time (the last tried), the status, the cold-start word', () => {
    expect(parseInvocationLine(line(`${A}/fn-1_x/warm 200 0.012 1`))).toEqual({ accountId: A, name: 'fn-1_x', mode: 'warm', status: 200, seconds: 0.012, coldStart: true });
    expect(parseInvocationLine(line(`${A}/fn/per-request 502 0.001, 0.250 -`))).toEqual({ accountId: A, name: 'fn', mode: 'per-request', status: 502, seconds: 0.25, coldStart: false });
    expect(parseInvocationLine(line(`${A}/fn/warm 200 0.001 : 0.004 -`))?.seconds).toBe(0.004);
  });

  it('a request that reached no socket (refused, throttled) is not an invocation', () => {
    expect(parseInvocationLine(line(`${A}/fn/warm 403 - -`))).toBeUndefined();
    expect(parseInvocationLine(line(`${A}/fn/warm 429 - 1`))).toBeUndefined();
  });

  it('the cold-start word is the runtime\'s, compared whole: anything but 1 is not a cold start, and cannot move the other fields', () => {
    for (const word of ['0', '11', '1 1', ' 1', '1 ', 'true', '\\x22', '-', '']) {
      const got = parseInvocationLine(line(`${A}/fn/warm 200 0.5 ${word}`));
      expect(got?.coldStart ?? false, JSON.stringify(word)).toBe(false);
      if (got) expect(got.seconds).toBe(0.5);
    }
  });

  it('go to a socket beside nginx\'s configuration, or a stand-in where nginx\'s syslog parameter would split the path', () => {
    expect(invocationLogPath('/var/lib/pcloud/run/nginx')).toBe('/var/lib/pcloud/run/nginx/invocations.sock');
    for (const odd of ['/data,dir/run/nginx', '/data dir/run/nginx', `/${'d'.repeat(120)}/run/nginx`]) {
      expect(invocationLogPath(odd)).toMatch(new RegExp(`^${SHORT_SOCKET_DIR}/[0-9a-f]{32}\\.sock$`));
    }
  });

  it('drops anything else', () => {
    for (const bad of [
      'garbage', line(''), line(`${A}/fn/cold 200 0.1 1`), line(`1111/fn/warm 200 0.1 1`), line(`${A}/${'a'.repeat(65)}/warm 200 0.1 1`),
      line(`${A}/<script>/warm 200 0.1 1`), line(`${A}/fn/warm 200 1e9 1`), line(`${A}/fn/warm 999 0.1 1`), line(`${A}/fn/warm 200 99999999 1`),
      `<190>Nov  1 12:34:56 nginx: ${A}/fn/warm 200 0.1 1`, line(`${A}/fn/warm 200 0.1 ${'x'.repeat(5000)}`),
      ...Object.values(HOSTILE).map((h) => line(`${A}/${h}/warm 200 0.1 1`)),
    ]) {
      expect(parseInvocationLine(bad), JSON.stringify(bad.slice(0, 60))).toBeUndefined();
    }
  });
});
