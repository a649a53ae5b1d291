import { STATUS_CODES } from 'node:http';

/** The body of every HTTP error answer (PROTOCOL §5): `error` is the status's name. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(status: number, message: string): ErrorBody {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message };
}
