/** The templates in systemd/ and nginx/: `{{name}}` filled from vars; a name without a value is an error. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';

export function render(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!(k in vars)) throw new Error(`template variable ${k} has no value`);
    return String(vars[k]);
  });
}

/** A template file of the project (`nginx/function.conf`, `systemd/pcloud-fn.socket`). */
export function template(path: string): Promise<string> {
  return readFile(join(projectRoot(), path), 'utf8');
}
