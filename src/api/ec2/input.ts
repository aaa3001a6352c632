/**
 * An EC2 request checked against its operation's input shape before the handler reads it, as EC2 does: a parameter
 * name the shape does not know is UnknownParameter; a required member missing is MissingParameter; an integer,
 * boolean, number or timestamp that does not parse, or a value outside the member's enum (botocore's values, see
 * src/api/model/enums.ts), is InvalidParameterValue. Names are EC2's query names (the member's queryName, else its
 * locationName capitalized, else its name); lists are `Name.N`, structures `Name.Sub`.
 */
import { CloudError, invalidParam, missingParam } from '../../cloud/errors.js';
import type { Node } from '../model/compile.js';

/** The Query protocol's own parameters (action, version, query-string signatures), in no operation's shape. */
const PROTOCOL = new Set([
  'Action', 'Version', 'AWSAccessKeyId', 'Signature', 'SignatureMethod', 'SignatureVersion', 'Timestamp', 'Expires', 'SecurityToken',
  'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token',
]);

const INDEX = /^[1-9]\d{0,8}$/;

export const unknownParameter = (name: string) => new CloudError('UnknownParameter', `The parameter ${name.slice(0, 128)} is not recognized`);

/** A value outside the member's enum (from botocore's models): AWS's own answer; a valid value the cloud lacks is the domain's. */
const notInEnum = (name: string, v: string) => invalidParam(`Invalid value '${v.slice(0, 200)}' for ${name}.`);

function checkScalar(node: Node, name: string, v: string): void {
  if (v === '') return; // an empty value is an absent one (Query's accessors read it so)
  const { type } = node;
  if (type === 'string' && node.enum && !node.enum.has(v)) throw notInEnum(name, v);
  const bad = (want: string) => invalidParam(`Value (${v.slice(0, 64)}) for parameter ${name} is invalid. Expected ${want}.`);
  switch (type) {
    case 'integer': case 'long':
      if (!/^-?\d{1,19}$/.test(v)) throw bad('an integer');
      return;
    case 'boolean':
      if (!/^(true|false)$/i.test(v)) throw bad('a boolean');
      return;
    case 'double': case 'float':
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) throw bad('a number');
      return;
    case 'timestamp':
      if (Number.isNaN(Date.parse(v))) throw bad('an ISO 8601 timestamp');
      return;
    default:
  }
}

/** Check every parameter against the input shape, then each structure given for its required members. */
export function checkInput(input: Node & { type: 'structure' }, params: readonly (readonly [string, string])[]): void {
  /** Each structure the request gives (by its name prefix, '' for the request itself) and its node. */
  const structures = new Map<string, Node & { type: 'structure' }>([['', input]]);
  /** Every name given and each of its dotted prefixes (`A.1.B` gives `A`, `A.1`, `A.1.B`): what "given" means, in one pass. */
  const given = new Set<string>();
  for (const [name, value] of params) {
    if (PROTOCOL.has(name)) continue;
    let node: Node = input;
    let prefix = '';
    for (const seg of name.split('.')) {
      if (node.type === 'structure') {
        const m = node.byQuery.get(seg);
        if (!m) throw unknownParameter(name);
        node = m.node;
      } else if (node.type === 'list') {
        if (!INDEX.test(seg)) throw unknownParameter(name);
        node = node.member;
      } else {
        throw unknownParameter(name);
      }
      given.add(prefix + seg);
      prefix += `${seg}.`;
      if (node.type === 'structure' && !structures.has(prefix)) structures.set(prefix, node);
    }
    if (node.type === 'structure' || node.type === 'list' || node.type === 'map') throw unknownParameter(name);
    checkScalar(node, name, value);
  }
  for (const [prefix, node] of structures) {
    for (const r of node.required) {
      const m = node.byName.get(r);
      if (m && !given.has(prefix + m.query)) throw missingParam(prefix + m.query);
    }
  }
}
