/** What `fn` throws, to assert on with typed matchers (`toMatchObject`, `toHaveProperty`); the test fails if it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
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
