/**
 * PostgreSQL's bytea for SQLite's blob in buffer mode (src/db/pg/generate.ts): node-postgres sends a Buffer as bytea
 * and reads bytea back as a Buffer, as better-sqlite3 does a blob.
 */
import { customType } from 'drizzle-orm/pg-core';

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });
