/**
 * IAM's list paging: MaxItems (1..1000, 100 when absent) and an opaque Marker naming where the next page starts.
 * Lists are in name order; the marker is the last name given (encoded), so a page is the same whatever was created
 * or deleted before it.
 */
import { invalid } from './names.js';

export interface Page<T> {
  items: T[];
  IsTruncated: boolean;
  Marker?: string;
}

export const DEFAULT_MAX_ITEMS = 100;

export function checkMaxItems(v: number | undefined): number {
  if (v === undefined) return DEFAULT_MAX_ITEMS;
  if (v < 1) throw invalid('maxItems', String(v), 'Member must have value greater than or equal to 1');
  if (v > 1000) throw invalid('maxItems', String(v), 'Member must have value less than or equal to 1000');
  return v;
}

const encode = (name: string) => Buffer.from(name, 'utf8').toString('base64url');

function decode(marker: string): string {
  if (marker.length < 1 || marker.length > 320 || !/^[A-Za-z0-9_-]+$/.test(marker)) throw invalid('marker', marker, 'Member must be a marker a previous page gave');
  return Buffer.from(marker, 'base64url').toString('utf8');
}

/** One page of `items` (sorted by `keyOf`), after the marker's key, at most maxItems long. */
export function page<T>(items: readonly T[], keyOf: (t: T) => string, input: { Marker?: unknown; MaxItems?: unknown }): Page<T> {
  const max = checkMaxItems(input.MaxItems as number | undefined);
  const after = input.Marker === undefined ? undefined : decode(input.Marker as string);
  const rest = after === undefined ? items : items.filter((t) => keyOf(t) > after);
  const out = rest.slice(0, max);
  const truncated = rest.length > max;
  return { items: out, IsTruncated: truncated, ...(truncated ? { Marker: encode(keyOf(out[out.length - 1]!)) } : {}) };
}
