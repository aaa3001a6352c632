/**
 * A request's filters applied within their matching budget (src/wildcard.ts), in memory and in SQL alike: a request
 * whose filters would take longer than it is refused as EC2 refuses a bad filter value (InvalidParameterValue).
 */
import { MatchBudgetExceeded, withMatchBudget } from '../wildcard.js';
import { invalidParam } from './errors.js';

function refused(err: unknown): never {
  throw err instanceof MatchBudgetExceeded ? invalidParam(err.message) : err;
}

/** Run fn (and everything it awaits) with a budget of its own; what it returns, a promise included, as it is. */
export function withFilterBudget<T>(fn: () => T): T {
  try {
    const result = withMatchBudget(fn);
    return (result instanceof Promise ? result.catch(refused) : result) as T;
  } catch (err) {
    return refused(err);
  }
}
