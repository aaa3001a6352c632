/**
 * The XML text of the objects the shape walker (xml.ts) makes, written straight to a string: the same bytes xml2js'
 * Builder writes for them (test/unit/xml-text.test.ts compares the two), without building a document in between,
 * which cost more than the rest of a small answer.
 *
 * The objects: a key is an element; a string its text; an array repeats the element once per entry; an object its
 * child elements, `$` its attributes; `''`, null and undefined an empty element (`<x/>`), as xml2js writes them.
 * Element names come from the service models and pcloud, never from a request; text is escaped as XML's rules say.
 * Characters XML cannot carry at all are the callers' to replace first (xmlSafe(): the walker does it for every value).
 */

/** The text of an element, escaped as xmlbuilder escapes it (`&`, `<`, `>`, and CR, which a parser would turn to LF). */
export function escapeText(s: string): string {
  return /[&<>\r]/.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;') : s;
}

/** An attribute's value, escaped for double quotes (tab, LF and CR as references, or a parser would normalize them). */
function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;');
}

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/** The document whose root element is `root` with `content` (an object, as above), its declaration first. */
export function xmlDocument(root: string, content: Record<string, unknown>): string {
  const out: string[] = [DECLARATION];
  element(out, root, content);
  return out.join('');
}

function element(out: string[], name: string, v: unknown): void {
  if (v === null || v === undefined || v === '') {
    out.push(`<${name}/>`);
    return;
  }
  if (typeof v !== 'object') {
    const text = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : '';
    out.push(`<${name}>${escapeText(text)}</${name}>`);
    return;
  }
  const record = v as Record<string, unknown>;
  let open = `<${name}`;
  const attrs = record.$;
  if (attrs && typeof attrs === 'object') for (const [k, a] of Object.entries(attrs)) open += ` ${k}="${escapeAttr(String(a))}"`;
  const start = out.length;
  out.push(open);
  for (const [k, child] of Object.entries(record)) {
    if (k === '$') continue;
    if (Array.isArray(child)) for (const entry of child) element(out, k, entry);
    else element(out, k, child);
  }
  if (out.length === start + 1) out[start] = `${open}/>`;
  else {
    out[start] = `${open}>`;
    out.push(`</${name}>`);
  }
}
