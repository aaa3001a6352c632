/** One finding of `pcloud doctor`: what was checked, whether it holds, what was seen, and how to mend it. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}
