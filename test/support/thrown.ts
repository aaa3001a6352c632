/** What `fn` throws, to assert on with typed matchers (`toMatchObject`, `toHaveProperty`); the test fails if it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw, but the call returned');
}
