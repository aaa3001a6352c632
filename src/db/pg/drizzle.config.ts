/**
 * drizzle-kit's settings for PostgreSQL: `npm run db:generate` diffs src/db/pg/schema.ts (generated from
 * src/db/schema.ts by `npm run db:pg`) against the last snapshot in src/db/pg/migrations/meta and writes the next
 * migration there; openPg applies them (src/db/pg/open.ts). Paths are from the project root, where npm runs.
 */
import type { Config } from 'drizzle-kit';

export default {
  dialect: 'postgresql',
  schema: './src/db/pg/schema.ts',
  out: './src/db/pg/migrations',
} satisfies Config;
