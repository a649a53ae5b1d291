/**
 * The shared store could not be reached (Redis down, closed, timed out).
 * The socket edge answers it with `unavailable`, REST with 503.
 */
export class StoreUnavailableError extends Error {
  constructor(message = 'The shared store is unreachable; try again') {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}
