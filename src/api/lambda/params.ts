/** Request parameters to the domain's terms: a body's configuration members, tags as a list, paging by MaxItems/Marker. */
import { CloudError } from '../../cloud/errors.js';
import type { FunctionInput } from '../../cloud/functions/index.js';
import type { PageRequest } from '../../cloud/paging.js';
import type { Tag } from '../../cloud/tags.js';
import type { Body } from './body.js';

/** A function's configuration, as Create/UpdateFunctionConfiguration's body gives it. */
export function input(b: Body): FunctionInput {
  const vars = b.Environment ? (b.Environment.Variables ?? new Map<string, string>()) : undefined;
  return {
    runtime: b.Runtime, handler: b.Handler, role: b.Role, description: b.Description, memoryMiB: b.MemorySize, timeoutSec: b.Timeout,
    // Object.fromEntries defines own properties: `__proto__` is only ever a key. A plain object still (drizzle asks for its constructor).
    environment: vars && Object.fromEntries(vars),
    layers: b.Layers,
  };
}

export const tagList = (tags: Map<string, string> | undefined): Tag[] => [...(tags ?? [])].map(([key, value]) => ({ key, value }));

/** MaxItems (1 to 10,000, 50 unless given) and Marker (a token pcloud handed out as NextMarker). */
export function pageRequest(q: URLSearchParams): PageRequest {
  const v = q.get('MaxItems');
  if (v !== null && (!/^\d{1,9}$/.test(v) || +v < 1 || +v > 10_000)) {
    throw new CloudError('InvalidParameterValueException', 'MaxItems must be an integer from 1 to 10000');
  }
  return { max: v === null ? 50 : +v, token: q.get('Marker') ?? undefined };
}
