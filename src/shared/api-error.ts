// Errors of API calls as they cross a transport. Kept apart from api.ts so that clients which only
// need the error type do not bundle the schema library.

/** An error as it crosses a transport: the message is shown to the user as is. */
export interface ApiErrorPayload {
  message: string;
  /**
   * 'invalid-input' when the call failed validation or named something unusable (a path to nothing,
   * a file of the wrong kind), 'not-found', 'conflict' when another process holds what the call would
   * change (a run it executes) or it exists already, or 'failed' (the backend's own failure).
   */
  code: 'invalid-input' | 'not-found' | 'conflict' | 'failed';
}

/** What a transport answers for one call: the result, or the error as the backend described it. */
export type ApiResponse = { ok: true; result: unknown } | { ok: false; error: ApiErrorPayload };

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: ApiErrorPayload['code'] = 'failed',
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
