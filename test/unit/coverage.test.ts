/** The coverage table in README.md is the generator's (npm run coverage), and every handler answers a model operation. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coverage, renderCoverage, withCoverage } from '../../src/api/model/coverage.js';
import { actions, unofferedNames } from '../../src/api/ec2/index.js';
import { operations } from '../../src/api/lambda/index.js';
import { serviceModel } from '../../src/api/model/index.js';
import { projectRoot } from '../../src/paths.js';

describe('the coverage table', () => {
  it('README.md holds the table the model and the handlers make now (run `npm run coverage` after adding an operation)', () => {
    const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
    expect(withCoverage(readme), 'README.md\'s coverage table is stale: run `npm run coverage`').toBe(readme);
  });

  it('every EC2 action and Lambda handler is an operation of its model (a handler keyed by a typo answers nothing)', () => {
    const ec2 = serviceModel('ec2-2016-11-15').operations;
    expect([...actions.keys()].filter((a) => !ec2.has(a))).toEqual([]);
    const lambda = serviceModel('lambda-2015-03-31').operations;
    expect([...operations.keys()].filter((o) => !lambda.has(o))).toEqual([]);
  });

  it('tells implemented, answered and not implemented apart, counts them, and refuses a README without its markers', () => {
    const ec2 = coverage().find((c) => c.service === 'EC2')!;
    const answer = (op: string) => ec2.rows.find((r) => r.operation === op)?.answer;
    expect(answer('RunInstances')).toBe('implemented');
    expect(answer('DescribeVpcClassicLink')).toBe('answered (unoffered feature)');
    expect(answer('CreateTransitGateway')).toBe('not implemented');
    expect(ec2.rows.filter((r) => r.answer === 'answered (unoffered feature)')).toHaveLength(unofferedNames.size);
    expect(ec2.rows).toHaveLength(serviceModel('ec2-2016-11-15').operations.size);
    const table = renderCoverage();
    expect(table).toContain(`| EC2 | ec2-2016-11-15 | ${ec2.rows.length} |`);
    expect(table).toContain('| DescribeVpcClassicLink | answered (unoffered feature) |');
    expect(() => withCoverage('# no markers')).toThrow(/coverage:begin/);
    expect(withCoverage('a\n<!-- coverage:begin -->\nold\n<!-- coverage:end -->\nb', 'new')).toBe('a\n<!-- coverage:begin -->\nnew\n<!-- coverage:end -->\nb');
  });
});
