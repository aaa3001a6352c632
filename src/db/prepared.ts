/**
 * Reads built once and run many times with their placeholders' values (drizzle's sql.placeholder): drizzle makes the
 * SQL once per database, and PostgreSQL parses and plans it once per connection (a named statement). For the hottest
 * reads only (a call by id). Inside a write() such a read is built on the transaction, as any other statement.
 */
import { outsideWrites, type Db } from './store.js';
import { dialect } from './tables.js';

type Values = Record<string, unknown>;
/** What drizzle's select builders have on either database: SQLite's all(), PostgreSQL's execute() and prepare(name). */
interface Runnable {
  all(values: Values): unknown;
  execute(values: Values): Promise<unknown>;
  prepare(name: string): Runnable;
}

const run = (query: Runnable, values: Values): Promise<unknown> =>
  dialect === 'sqlite' ? Promise.resolve(query.all(values)) : query.execute(values);

/**
 * `build`'s read, prepared once per database under `name` (unique among pcloud's prepared reads: PostgreSQL knows a
 * statement by it), run with `values` for its placeholders.
 */
export function preparedRead<R>(name: string, build: (db: Db) => PromiseLike<R>): (db: Db, values: Values) => Promise<R> {
  const made = new WeakMap<Db, Runnable>();
  return async (db, values) => {
    const root = outsideWrites(db);
    if (!root) return (await run(build(db) as unknown as Runnable, values)) as R;
    let query = made.get(root);
    if (!query) {
      query = (build(root) as unknown as Runnable).prepare(name);
      made.set(root, query);
    }
    return (await run(query, values)) as R;
  };
}
