/** `npm run db:pg`: write src/db/pg/schema.ts from src/db/schema.ts (see generate.ts). */
import { writeFileSync } from 'node:fs';
import { pgSchemaPath, renderPgSchema } from './generate.js';

const text = renderPgSchema();
writeFileSync(pgSchemaPath(), text);
console.log(`wrote ${pgSchemaPath()} (${text.length} bytes)`);
