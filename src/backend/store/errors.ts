// Errors the store raises for requests that cannot be, as asked (a run of another collection, a
// filter out of range): the caller's mistake, which the API answers as invalid input (HTTP 400).

export class InvalidRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequestError';
  }
}
