/**
 * The one EC2 XML serializer: plain objects in, Query-protocol XML out. Keys are element names; arrays become
 * `<item>` lists; booleans `true`/`false`; Dates ISO-8601; undefined and null are left out. It never throws on data:
 * characters XML 1.0 cannot carry (which the edge refuses, but older records may hold) are written as U+FFFD.
 */
import xml2js from 'xml2js';
import { NOT_XML_CHAR, unservable } from '../../cloud/text.js';

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

const builder = new xml2js.Builder({
  xmldec: { version: '1.0', encoding: 'UTF-8' },
  renderOpts: { pretty: false },
  headless: false,
});

const NOT_XML_ALL = new RegExp(NOT_XML_CHAR.source, 'gu');

/** The string with every character XML 1.0 cannot carry replaced by U+FFFD. */
export function xmlSafe(s: string): string {
  return unservable(s) ? s.replace(NOT_XML_ALL, '\uFFFD') : s;
}

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
  return xmlSafe(String(v));
}

export function successXml(action: string, requestId: string, body: Record<string, unknown>): string {
  const content = toXml2js({ requestId, ...(body as Record<string, Plain>) }) as Record<string, unknown>;
  return builder.buildObject({ [`${action}Response`]: { $: { xmlns: EC2_NS }, ...content } });
}

export function errorXml(code: string, message: string, requestId: string): string {
  return builder.buildObject({
    Response: { Errors: { Error: { Code: xmlSafe(code), Message: xmlSafe(message) } }, RequestID: requestId },
  });
}
