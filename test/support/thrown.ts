/** What `fn` throws, to assert on with typed matchers (`toMatchObject`, `toHaveProperty`); the test fails if it returns. */
export function thrown(fn: () => unknown): unknown {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    return err;
  }
  if (result instanceof Promise) throw new Error('thrown() of an async call: use rejected()');
  throw new Error('expected a throw, but the call returned');
}

/** The AWS error code an SDK call fails with (its Code, else the error's name), or 'no error'. */
export async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { Code?: string }).Code ?? (e as Error).name;
  }
  return 'no error';
}

/** What the promise `fn` returns rejects with, to assert on as thrown()'s; the test fails if it resolves. */
export async function rejected(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the call resolved');
}
