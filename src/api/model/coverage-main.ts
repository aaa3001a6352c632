/** `npm run coverage`: write the coverage table (src/api/model/coverage.ts) into README.md. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../paths.js';
import { coverage, renderCoverage, withCoverage } from './coverage.js';

const path = join(projectRoot(), 'README.md');
const all = coverage();
writeFileSync(path, withCoverage(readFileSync(path, 'utf8'), renderCoverage(all)));
for (const c of all) {
  const by = (a: string) => c.rows.filter((r) => r.answer === a).length;
  console.log(`${c.service}: ${c.rows.length} operations, ${by('implemented')} implemented, ${by('answered (unoffered feature)')} answered, ${by('not implemented')} not implemented`);
}
