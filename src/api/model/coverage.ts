/**
 * The coverage table: every operation of each service's model, and how pcloud answers it: `implemented`, `answered
 * (unoffered feature)` (AWS's own answer where a feature is not offered: src/api/ec2/actions/unoffered.ts), or `not
 * implemented` (InvalidAction / UnknownOperationException). Written into README.md between its coverage markers by
 * `npm run coverage`; test/unit/coverage.test.ts fails when README's table is stale.
 */
import { actions as ec2Actions, unofferedNames } from '../ec2/index.js';
import { operations as lambdaOperations } from '../lambda/index.js';
import { stsOperations } from '../sts/index.js';
import { iamOperations } from '../iam/index.js';
import { serviceModel, type ServiceUid } from './index.js';

export type Answer = 'implemented' | 'answered (unoffered feature)' | 'not implemented';

export interface ServiceCoverage {
  service: string;
  uid: ServiceUid;
  rows: { operation: string; answer: Answer }[];
}

export const BEGIN = '<!-- coverage:begin -->';
export const END = '<!-- coverage:end -->';

function service(name: string, uid: ServiceUid, answer: (op: string) => Answer): ServiceCoverage {
  const ops = [...serviceModel(uid).operations.keys()].sort();
  return { service: name, uid, rows: ops.map((operation) => ({ operation, answer: answer(operation) })) };
}

export function coverage(): ServiceCoverage[] {
  return [
    service('EC2', 'ec2-2016-11-15', (op) =>
      (unofferedNames.has(op) ? 'answered (unoffered feature)' : ec2Actions.has(op) ? 'implemented' : 'not implemented')),
    service('Lambda', 'lambda-2015-03-31', (op) => (lambdaOperations.has(op) ? 'implemented' : 'not implemented')),
    service('IAM', 'iam-2010-05-08', (op) => (iamOperations.has(op) ? 'implemented' : 'not implemented')),
    service('STS', 'sts-2011-06-15', (op) => (stsOperations.has(op) ? 'implemented' : 'not implemented')),
  ];
}

const count = (c: ServiceCoverage, a: Answer) => c.rows.filter((r) => r.answer === a).length;

/** The Markdown between the markers: counts per service, then each service's table in a <details> block. */
export function renderCoverage(all: ServiceCoverage[] = coverage()): string {
  const lines = [
    '| service | model | operations | implemented | answered (unoffered feature) | not implemented |',
    '|---|---|---:|---:|---:|---:|',
    ...all.map((c) => `| ${c.service} | ${c.uid} | ${c.rows.length} | ${count(c, 'implemented')} | ${count(c, 'answered (unoffered feature)')} | ${count(c, 'not implemented')} |`),
  ];
  for (const c of all) {
    lines.push('', `<details><summary>${c.service}: every operation of ${c.uid}</summary>`, '', '| operation | answer |', '|---|---|');
    // Implemented and answered first, then the rest, each alphabetically: what works reads at the top.
    const order: Answer[] = ['implemented', 'answered (unoffered feature)', 'not implemented'];
    for (const a of order) for (const r of c.rows) if (r.answer === a) lines.push(`| ${r.operation} | ${r.answer} |`);
    lines.push('', '</details>');
  }
  return lines.join('\n');
}

/** README with its coverage section replaced by `table` (the markers must be there, once each, in order). */
export function withCoverage(readme: string, table = renderCoverage()): string {
  const b = readme.indexOf(BEGIN);
  const e = readme.indexOf(END);
  if (b < 0 || e < b || readme.indexOf(BEGIN, b + 1) >= 0) throw new Error(`README.md needs one ${BEGIN} ... ${END} section`);
  return `${readme.slice(0, b + BEGIN.length)}\n${table}\n${readme.slice(e)}`;
}
