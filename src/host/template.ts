/**
 * The templates in nginx/: `{{name}}` filled from vars; a name without a value is an error. (Unit files are not
 * templates: each unit manager renders the one unit description, src/host/units.)
 *
 * Every value is typed by the format it was escaped for: `fill()` takes only numbers and `Escaped` values of the
 * template's own format, which only that format's escaper makes (src/host/nginx-syntax.ts for nginx). A raw string cannot be pasted into a template by accident: it does not
 * type-check, and at run time a value of another format (or a string) is refused.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';

export type Format = 'nginx';

declare const escapedBrand: unique symbol;

/** Text that is valid, as it is, in `format` (made by that format's escaper only). */
export interface Escaped<F extends Format> {
  readonly format: F;
  readonly text: string;
  readonly [escapedBrand]: true;
}

/**
 * For a format's escaper only: declares `text` valid in `format`. Anything else that calls this pastes unchecked
 * text into a rendered file.
 */
export function escapedAs<F extends Format>(format: F, text: string): Escaped<F> {
  return Object.freeze({ format, text }) as Escaped<F>;
}

export interface Template<F extends Format> {
  readonly path: string;
  readonly format: F;
  readonly text: string;
}

export type TemplateValue<F extends Format> = Escaped<F> | number;

/** A template file of the project, with the format its directory says (`nginx/function-url.conf`). */
export async function loadTemplate(path: `nginx/${string}`): Promise<Template<'nginx'>> {
  return { path, format: 'nginx', text: await readFile(join(projectRoot(), path), 'utf8') };
}

/** The template with each `{{name}}` replaced by its value (escaped for the template's format, or a finite number). */
export function fill<F extends Format>(t: Template<F>, vars: Readonly<Record<string, TemplateValue<NoInfer<F>>>>): string {
  return t.text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!Object.hasOwn(vars, k)) throw new Error(`template ${t.path}: variable ${k} has no value`);
    const v: unknown = vars[k];
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Error(`template ${t.path}: variable ${k} is not a finite number`);
      return String(v);
    }
    if (typeof v === 'object' && v !== null && (v as Escaped<F>).format === t.format && typeof (v as Escaped<F>).text === 'string') {
      return (v as Escaped<F>).text;
    }
    throw new Error(`template ${t.path}: variable ${k} was not escaped for ${t.format}`);
  });
}
