/**
 * Where the generator reads its inputs (botocore's gzipped models, found through python3; aws-sdk's min models) and
 * what it writes (src/api/model/enums.json). Build-time only: the runtime reads enums.json and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { projectRoot } from '../../paths.js';
import { ENUM_SERVICES, generateEnums, type RawService, type ServiceEnums } from './enums-gen.js';

const require = createRequire(import.meta.url);

/** botocore's data directory, or undefined where python3 or botocore is missing. */
export function botocoreData(): string | undefined {
  try {
    const init = execFileSync('python3', ['-c', 'import botocore; print(botocore.__file__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dir = join(dirname(init), 'data');
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

export const enumsPath = () => join(projectRoot(), 'src/api/model/enums.json');

/** The file's text as the generator makes it now from botocore's models in `data`. */
export function renderEnums(data: string): string {
  const out: Record<string, ServiceEnums> = {};
  for (const s of ENUM_SERVICES) {
    const min = JSON.parse(readFileSync(require.resolve(`aws-sdk/apis/${s.uid}.min.json`), 'utf8')) as RawService;
    const boto = JSON.parse(gunzipSync(readFileSync(join(data, s.boto, 'service-2.json.gz'))).toString('utf8')) as RawService;
    out[s.key] = generateEnums(min, boto);
  }
  return `${JSON.stringify(out)}\n`;
}
