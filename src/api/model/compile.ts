/**
 * A model's shapes compiled once into a tree the wire layers walk on every request: structures with their members
 * (by name, by the element name EC2 writes, by the query name EC2 reads), lists with their member, maps, scalars.
 * Compiled nodes are cached by the model's shape object, so every operation that shares a shape shares its node,
 * and recursive shapes end in a cycle, not in a loop.
 */
import { enumOf } from './enums.js';
import type { Operation, ServiceModel, Shape } from './index.js';

export type Scalar = 'string' | 'integer' | 'long' | 'boolean' | 'timestamp' | 'blob' | 'double' | 'float';

export interface Member {
  /** The model's member name (Lambda's JSON key). */
  name: string;
  /** Where a REST member travels (uri, querystring, header…); absent for the body. */
  location?: string;
  /** EC2's element name in responses: the member's locationName, else its name. */
  element: string;
  /** EC2's parameter name in requests: queryName, else locationName capitalized, else the name. */
  query: string;
  /** The member's own locationName (a REST header or query name). */
  locationName?: string;
  node: Node;
}

export type Node =
  | { type: 'structure'; members: Member[]; byName: Map<string, Member>; byElement: Map<string, Member>; byQuery: Map<string, Member>; required: string[] }
  | { type: 'list'; member: Node; element: string }
  | { type: 'map'; key: Node; value: Node }
  | { type: Scalar; enum?: ReadonlySet<string> };

const caches = new WeakMap<ServiceModel, WeakMap<Shape, Node>>();

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A member entry's node: its shape's, or (where the member has an enum, generated from botocore's models) a scalar
 * node of its own carrying the values, since the min models share one scalar shape between members with and without.
 */
function memberNode(model: ServiceModel, entry: Shape): Node {
  const node = compile(model, entry);
  const values = enumOf(model, entry);
  return values && node.type === 'string' ? { type: 'string', enum: values } : node;
}

/** The compiled node of a shape (a member's own shape reference, or an inline shape). */
export function compile(model: ServiceModel, ref: Shape): Node {
  let cache = caches.get(model);
  if (!cache) caches.set(model, (cache = new WeakMap()));
  const s = model.target(ref);
  const hit = cache.get(s);
  if (hit) return hit;
  const type = s.type ?? 'string';
  if (type === 'structure') {
    const node: Node = { type, members: [], byName: new Map(), byElement: new Map(), byQuery: new Map(), required: s.required ?? [] };
    cache.set(s, node); // before the members: a shape may contain itself
    for (const [name, m] of Object.entries(s.members ?? {})) {
      const member: Member = {
        name, location: m.location, locationName: m.locationName, element: m.locationName ?? name,
        query: m.queryName ?? (m.locationName ? capitalize(m.locationName) : name), node: memberNode(model, m),
      };
      node.members.push(member);
      node.byName.set(name, member);
      node.byElement.set(member.element, member);
      node.byQuery.set(member.query, member);
    }
    return node;
  }
  if (type === 'list') {
    const member = s.member ?? {};
    const node = { type, element: member.locationName ?? 'member' } as Node & { type: 'list' };
    cache.set(s, node);
    node.member = memberNode(model, member);
    return node;
  }
  if (type === 'map') {
    const node = { type } as Node & { type: 'map' };
    cache.set(s, node);
    node.key = compile(model, s.key ?? {});
    node.value = compile(model, s.value ?? {});
    return node;
  }
  const node: Node = { type };
  cache.set(s, node);
  return node;
}

/** EC2 operations without an output shape still answer `<return>true</return>`. */
const returnOnly: Node = {
  type: 'structure', members: [], byName: new Map(), byElement: new Map(), byQuery: new Map(), required: [],
};
{
  const member: Member = { name: 'Return', element: 'return', query: 'Return', node: { type: 'boolean' } };
  returnOnly.members.push(member);
  returnOnly.byName.set('Return', member);
  returnOnly.byElement.set('return', member);
  returnOnly.byQuery.set('Return', member);
}

const empty: Node = { type: 'structure', members: [], byName: new Map(), byElement: new Map(), byQuery: new Map(), required: [] };

/** An operation's output (a structure; `{ return }` where the model names none, as the Query services answer). */
export function outputNode(model: ServiceModel, op: Operation): Node & { type: 'structure' } {
  return (op.output ? compile(model, op.output) : model.protocol === 'ec2' ? returnOnly : empty) as Node & { type: 'structure' };
}

/** An operation's input (a structure; an empty one where the model names none). */
export function inputNode(model: ServiceModel, op: Operation): Node & { type: 'structure' } {
  return (op.input ? compile(model, op.input) : empty) as Node & { type: 'structure' };
}
