/** EC2's XML: the answer's envelope around the output shape's walk (src/api/model/xml.ts), and EC2's error XML. */
import type { Node } from '../model/compile.js';
import { strictShapes } from '../model/strict.js';
import { writeShape, xmlSafe } from '../model/xml.js';
import { xmlDocument } from '../model/xml-text.js';

export { ShapeMismatch, xmlSafe } from '../model/xml.js';

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** The operation's answer, serialized from its output shape (requestId first). Throws ShapeMismatch only when strict. */
export function successXml(action: string, requestId: string, body: Record<string, unknown>, output: Node, strict = strictShapes()): string {
  const content = writeShape(output, body, action, strict) as Record<string, unknown>;
  return xmlDocument(`${action}Response`, { $: { xmlns: EC2_NS }, requestId, ...content });
}

export function errorXml(code: string, message: string, requestId: string): string {
  return xmlDocument('Response', { Errors: { Error: { Code: xmlSafe(code), Message: xmlSafe(message) } }, RequestID: requestId });
}
