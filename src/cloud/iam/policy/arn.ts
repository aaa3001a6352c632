/**
 * ARNs matched as IAM matches Resource and the Arn* operators: the six colon-separated parts (arn, partition, service,
 * region, account, resource; the resource part keeps any further colons) each matched on its own, so a wildcard never
 * reaches across a colon into the next part. A pattern without a colon (`*`) is matched against the whole ARN; one
 * of two to five parts matches part by part, its last part against the rest of the ARN (`arn:aws:s3:*`).
 */
import { globMatch, isStar, type Glob } from './glob.js';

/** The six parts of an ARN, or undefined when it has fewer. */
export function arnParts(arn: string): string[] | undefined {
  const parts: string[] = [];
  let from = 0;
  for (let k = 0; k < 5; k++) {
    const at = arn.indexOf(':', from);
    if (at < 0) return undefined;
    parts.push(arn.slice(from, at));
    from = at + 1;
  }
  parts.push(arn.slice(from));
  return parts;
}

/** A pattern cut into its parts (each with its own wildcards; at most six), or whole when it has no colon. */
export type ArnGlob = { readonly parts: readonly Glob[] } | { readonly whole: Glob };

export function arnGlob(g: Glob): ArnGlob {
  if (isStar(g) || !g.text.includes(':')) return { whole: g };
  const parts: Glob[] = [];
  let from = 0;
  for (let k = 0; k < 5; k++) {
    const at = g.text.indexOf(':', from);
    if (at < 0) break;
    parts.push(slice(g, from, at));
    from = at + 1;
  }
  parts.push(slice(g, from, g.text.length));
  return { parts };
}

const slice = (g: Glob, from: number, to: number): Glob => ({ text: g.text.slice(from, to), wild: g.wild ? g.wild.slice(from, to) : null });

/** Whether `arn` (and its parts, from arnParts, when the caller has them) matches the pattern. */
export function arnMatch(p: ArnGlob, arn: string, parts: readonly string[] | undefined = arnParts(arn)): boolean {
  if ('whole' in p) return globMatch(p.whole, arn);
  if (!parts) return false;
  const last = p.parts.length - 1;
  for (let k = 0; k < last; k++) if (!globMatch(p.parts[k]!, parts[k]!)) return false;
  return globMatch(p.parts[last]!, last === 5 ? parts[5]! : parts.slice(last).join(':'));
}
