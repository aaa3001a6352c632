/** The XML writer (src/api/model/xml-text.ts) writes what xml2js' Builder writes, byte for byte, for what the walker makes. */
import { describe, expect, it } from 'vitest';
import xml2js from 'xml2js';
import { escapeText, xmlDocument } from '../../src/api/model/xml-text.js';

const reference = new xml2js.Builder({ renderOpts: { pretty: false }, xmldec: { version: '1.0', encoding: 'UTF-8' } });
const viaXml2js = (root: string, content: Record<string, unknown>) => reference.buildObject({ [root]: content });

/** A small deterministic generator (no test depends on chance). */
function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const HOSTILE = ['', ' ', '&', '&amp;', '<b>', ']]>', '"quoted"', "it's", 'a\rb', 'a\r\nb', 'tab\tnl\n', 'ünï', '😀', '&#x41;', '</x>', '<?xml?>', '<!-- c -->'];

function value(next: () => number, depth: number): unknown {
  const r = next();
  if (depth > 3 || r < 0.45) return HOSTILE[Math.floor(next() * HOSTILE.length)]! + (next() < 0.5 ? String(Math.floor(next() * 100)) : '');
  if (r < 0.55) return next() < 0.5 ? '' : undefined;
  // A list as the walker makes it: its member element repeated (never a list directly in a list).
  if (r < 0.75) return { item: Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1)).filter((x) => x !== undefined) };
  const o: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(next() * 4); i++) o[`m${i}${['', 'Set', 'Id'][i % 3]}`] = value(next, depth + 1);
  return o;
}

describe('xmlDocument', () => {
  it('writes the bytes xml2js writes: nested structures, item lists, empty lists and members, hostile text, attributes', () => {
    const next = random(17);
    for (let i = 0; i < 500; i++) {
      const content: Record<string, unknown> = { $: { xmlns: 'http://ec2.amazonaws.com/doc/2016-11-15/' }, requestId: `r-${i}` };
      for (let m = 0; m < 5; m++) {
        const v = value(next, 0);
        if (v !== undefined) content[`member${m}`] = v;
      }
      expect(xmlDocument('DescribeThingsResponse', content)).toBe(viaXml2js('DescribeThingsResponse', content));
    }
  });

  it('empty structures and lists are empty elements; an attribute value with quotes and newlines is escaped', () => {
    const content = { $: { xmlns: 'a"b\n<c>&' }, empty: {}, blank: '', list: { item: [{}, { id: 'x' }, ''] } };
    expect(xmlDocument('R', content)).toBe(viaXml2js('R', content));
    expect(xmlDocument('R', content)).toBe('<?xml version="1.0" encoding="UTF-8"?><R xmlns="a&quot;b&#xA;&lt;c>&amp;"><empty/><blank/><list><item/><item><id>x</id></item><item/></list></R>');
  });

  it('escapes text as XML needs and nothing more', () => {
    expect(escapeText('plain text, "quotes" and \'apostrophes\'')).toBe('plain text, "quotes" and \'apostrophes\'');
    expect(escapeText('a<b>&c\rd')).toBe('a&lt;b&gt;&amp;c&#xD;d');
  });
});
