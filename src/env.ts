/**
 * Reading settings from the environment, the one way every config module does (src/cloud/config.ts,
 * src/host/config.ts): unset and empty are the default; a value that is not what the setting takes stops the server
 * with one line naming the setting and (the start of) the value.
 */

/** A set variable's value; unset and empty are the same (its default). */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw;
}

/** A whole number from `min` to `max`, `fallback` when unset. */
export function envWhole(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = envValue(env, name);
  if (raw === undefined) return fallback;
  const n = /^\d{1,15}$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new Error(`${name} must be a whole number ${range}, not ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return n;
}
