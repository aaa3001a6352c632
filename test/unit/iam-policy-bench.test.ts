import { describe, expect, it } from 'vitest';
import { benchIam } from '../../bench/iam.js';

describe('bench/iam.ts', () => {
  it('measures the decisions a realistic policy set gives (figures are the bench\'s, not asserted here)', () => {
    const r = benchIam({ batches: 2, perBatch: 12 });
    expect(r.decisions).toEqual([
      'ec2:DescribeInstances: allow', 'ec2:RunInstances: allow', 'ec2:TerminateInstances: deny',
      'lambda:InvokeFunction: allow', 'iam:CreateAccessKey: allow', 'iam:CreateUser: implicit-deny',
    ]);
    expect(r.policies).toBe(5);
    expect(r.perRequestNs.evaluate.n).toBe(2);
  });
});
