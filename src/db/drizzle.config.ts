/**
 * drizzle-kit's settings: `npm run db:generate` diffs src/db/schema.ts against the last snapshot in
 * src/db/migrations/meta and writes the next migration there. openDb applies them (src/db/migrate.ts); dist/ reads
 * them from src/db/migrations, so they are never copied. Paths are from the project root, where npm runs.
 */
import type { Config } from 'drizzle-kit';

export default {
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './src/db/migrations',
} satisfies Config;
