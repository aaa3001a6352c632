/**
 * Parsed policies by their document text, so a request evaluates compiled policies and never re-parses: a bounded Map
 * (documents are hostile and many; when full it starts over). A document that fails to parse is not kept.
 */
import { parsePolicy, type ParseOptions } from './parse.js';
import type { Policy, PolicyKind } from './types.js';

const MAX = 2048;
const cache = new Map<string, Policy>();

/** parsePolicy, remembered per (kind, managed, text): the same document text gives the same Policy object. */
export function cachedPolicy(json: string, kind: PolicyKind, options: ParseOptions = {}): Policy {
  const key = `${kind}:${options.managed ? 'm' : '-'}:${json}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const p = parsePolicy(json, kind, options);
  if (cache.size >= MAX) cache.clear();
  cache.set(key, p);
  return p;
}
