// Shared by the model manager tests: a promise must fail with a ModelManagerError of a given kind.
import { expect } from 'vitest';
import { ModelManagerError } from '../../../src/backend/models/errors.js';

/** Waits for `promise` and checks that it rejected with a ModelManagerError of `kind` whose message matches. */
export async function expectFailure(
  promise: Promise<unknown>,
  kind: ModelManagerError['kind'],
  pattern: RegExp,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ModelManagerError);
  expect((error as ModelManagerError).kind).toBe(kind);
  expect((error as Error).message).toMatch(pattern);
}
