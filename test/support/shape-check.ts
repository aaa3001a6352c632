/**
 * An EC2 answer's XML checked against its operation's output shape, independently of the serializer that wrote it:
 * each element a member of its structure (by element name), each list's children its member element (`item`), and
 * booleans, integers and timestamps in the form the model types them. Returns the first problem, or undefined.
 */
import xml2js from 'xml2js';
import type { Node } from '../../src/api/model/compile.js';

type Parsed = string | { [element: string]: Parsed[] };

function check(node: Node, v: Parsed, path: string): string | undefined {
  switch (node.type) {
    case 'structure': {
      if (v === '') return undefined;
      if (typeof v === 'string') return `${path}: text where a structure was due`;
      for (const [k, xs] of Object.entries(v)) {
        if (k === '$') continue;
        const m = node.byElement.get(k);
        if (!m) return `${path}.${k}: not a member of the output shape`;
        if (xs.length !== 1) return `${path}.${k}: written ${xs.length} times`;
        const hit = check(m.node, xs[0]!, `${path}.${k}`);
        if (hit) return hit;
      }
      return undefined;
    }
    case 'list': {
      if (v === '') return undefined;
      if (typeof v === 'string') return `${path}: text where a list was due`;
      for (const [k, xs] of Object.entries(v)) {
        if (k !== node.element) return `${path}.${k}: a list's members are <${node.element}>`;
        for (let i = 0; i < xs.length; i++) {
          const hit = check(node.member, xs[i]!, `${path}[${i}]`);
          if (hit) return hit;
        }
      }
      return undefined;
    }
    default: {
      if (typeof v !== 'string') return `${path}: elements where a ${node.type} was due`;
      if (node.type === 'boolean' && !/^(true|false)$/.test(v)) return `${path}: '${v}' is not a boolean`;
      if ((node.type === 'integer' || node.type === 'long') && !/^-?\d+$/.test(v)) return `${path}: '${v}' is not an integer`;
      if (node.type === 'timestamp' && Number.isNaN(Date.parse(v))) return `${path}: '${v}' is not a timestamp`;
      return undefined;
    }
  }
}

export async function ec2XmlMismatch(action: string, output: Node, xml: string): Promise<string | undefined> {
  const parsed = await xml2js.parseStringPromise(xml, { explicitArray: true }) as Record<string, Record<string, Parsed[]> | undefined>;
  const root = parsed[`${action}Response`];
  if (!root) return `no ${action}Response element`;
  const { requestId, ...rest } = root;
  if (!requestId) return 'no requestId';
  return check(output, rest, action);
}
