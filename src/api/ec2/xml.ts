/**
 * The one EC2 XML serializer: plain objects in, Query-protocol XML out. Keys are element names; arrays become
 * `<item>` lists; booleans `true`/`false`; Dates ISO-8601; undefined and null are left out.
 */
import xml2js from 'xml2js';

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

const builder = new xml2js.Builder({
  xmldec: { version: '1.0', encoding: 'UTF-8' },
  renderOpts: { pretty: false },
  headless: false,
});

type Plain = string | number | boolean | Date | null | undefined | Plain[] | { [k: string]: Plain };

function toXml2js(v: Plain): unknown {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) return v.length ? { item: v.map(toXml2js) } : '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = toXml2js(x);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  return String(v);
}

export function successXml(action: string, requestId: string, body: Record<string, unknown>): string {
  const content = toXml2js({ requestId, ...(body as Record<string, Plain>) }) as Record<string, unknown>;
  return builder.buildObject({ [`${action}Response`]: { $: { xmlns: EC2_NS }, ...content } });
}

export function errorXml(code: string, message: string, requestId: string): string {
  return builder.buildObject({
    Response: { Errors: { Error: { Code: code, Message: message } }, RequestID: requestId },
  });
}
