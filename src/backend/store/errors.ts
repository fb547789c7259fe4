// The caller's mistake, wherever the backend finds it (a run of another collection, a filter out of
// range, a path to nothing, a file that is not what it should be): the API answers it as invalid
// input (HTTP 400), the CLI as a usage problem of the file or option it names.

export class InvalidRequestError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidRequestError';
  }
}
