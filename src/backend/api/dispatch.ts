// The backend end of the API contract: validates each call's input against its schema, runs the
// handler, and returns plain data, so that every transport behaves the same.
import { describeIssues } from '../../shared/domain/issues.js';
import { z } from 'zod';
import {
  apiSchemas,
  ApiError,
  type ApiErrorPayload,
  type ApiMethod,
  type ApiOutput,
  type Plain,
} from '../../shared/api.js';
import { RunOwnedError } from '../jobs/leases.js';
import { InvalidRequestError } from '../store/errors.js';

export type ApiHandlers = {
  [M in ApiMethod]: (input: z.output<(typeof apiSchemas)[M]>) => Promise<ApiOutput<M>> | ApiOutput<M>;
};

/** Typed arrays become number arrays; everything else is kept (recursively). */
export function toPlain<T>(value: T): Plain<T> {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<number>) as Plain<T>;
  if (Array.isArray(value)) return value.map(toPlain) as Plain<T>;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)])) as Plain<T>;
  }
  return value as Plain<T>;
}

export type Dispatch = (method: string, input: unknown) => Promise<unknown>;

export function createDispatcher(handlers: ApiHandlers): Dispatch {
  return async (method, input) => {
    if (!Object.hasOwn(apiSchemas, method)) throw new ApiError(`unknown API call "${method}"`, 'not-found');
    const schema = apiSchemas[method as ApiMethod];
    const parsed = schema.safeParse(input ?? {});
    if (!parsed.success) {
      throw new ApiError(`${method}: ${describeIssues(parsed.error)}`, 'invalid-input');
    }
    const handler = handlers[method as ApiMethod] as (input: unknown) => unknown;
    return toPlain(await handler(parsed.data));
  };
}

/** What a transport sends back for a failed call. */
export function errorPayload(error: unknown): ApiErrorPayload {
  if (error instanceof ApiError) return { message: error.message, code: error.code };
  if (error instanceof RunOwnedError) return { message: error.message, code: 'conflict' };
  // FileRefusedError, TextEncodingError and the services' refusals are InvalidRequestErrors.
  if (error instanceof InvalidRequestError) return { message: error.message, code: 'invalid-input' };
  return { message: error instanceof Error ? error.message : String(error), code: 'failed' };
}
