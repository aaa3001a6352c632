/** `npm run enums`: regenerate src/api/model/enums.json from botocore's models (see enums-gen.ts). */
import { writeFileSync } from 'node:fs';
import { botocoreData, enumsPath, renderEnums } from './enums-files.js';

const data = botocoreData();
if (!data) {
  console.error('botocore is not installed (python3 -c "import botocore"): pip install botocore, then run again');
  process.exit(1);
}
const text = renderEnums(data);
writeFileSync(enumsPath(), text);
console.log(`wrote ${enumsPath()} (${text.length} bytes)`);
