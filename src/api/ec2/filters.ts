import { invalidParam, CloudError } from '../../cloud/errors.js';
import { matches, type Filter, type Tag } from '../../cloud/tags.js';

export type Fields<T> = Record<string, (r: T) => string | string[] | undefined>;

/** The getter a filter names, if the table has one of its own (never an Object.prototype member like `constructor`). */
export function fieldOf<F>(fields: Record<string, F>, name: string): F | undefined {
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

/** Apply EC2 filters in memory: field getters by filter name, plus tag:KEY / tag-key / tag-value. */
export function filterRows<T extends { id: string }>(rows: T[], filters: Filter[], tags: Map<string, Tag[]>, fields: Fields<T>): T[] {
  let out = rows;
  for (const f of filters) {
    if (f.name.startsWith('tag:')) {
      const key = f.name.slice(4);
      out = out.filter((r) => matches(tags.get(r.id)?.find((t) => t.key === key)?.value, f.values));
    } else if (f.name === 'tag-key') {
      out = out.filter((r) => (tags.get(r.id) ?? []).some((t) => matches(t.key, f.values)));
    } else if (f.name === 'tag-value') {
      out = out.filter((r) => (tags.get(r.id) ?? []).some((t) => matches(t.value, f.values)));
    } else {
      const get = fieldOf(fields, f.name);
      if (!get) throw invalidParam(`The filter '${f.name}' is invalid`);
      out = out.filter((r) => {
        const v = get(r);
        return Array.isArray(v) ? v.some((x) => matches(x, f.values)) : matches(v, f.values);
      });
    }
  }
  return out;
}

export function byIds<T extends { id: string }>(rows: T[], ids: string[], code: string, what: string): T[] {
  if (!ids.length) return rows;
  const have = new Set(rows.map((r) => r.id));
  const missing = ids.filter((id) => !have.has(id));
  if (missing.length) throw new CloudError(code, `The ${what} '${missing.join(', ')}' does not exist`);
  const wanted = new Set(ids);
  return rows.filter((r) => wanted.has(r.id));
}
