/**
 * SQLSTATEs meaning the connection, not the statement, failed: class 08 (connection exception),
 * 57P01–57P03 (terminated by an administrator, a crash, or the server not accepting connections
 * yet) and 53300 (too many connections).
 */
const connectionStates = /^(08...|57P0[123]|53300)$/;
const socketCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);
// pg reports a closed socket, a client it already gave up on and a pool timeout with plain Errors.
const driverMessages =
  /Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect/;

/** True when a database call failed because the connection broke: retrying later may succeed. */
export function isConnectionFailure(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    const { code, message, cause } = current as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string' && (connectionStates.test(code) || socketCodes.has(code))) {
      return true;
    }
    if (typeof message === 'string' && driverMessages.test(message)) return true;
    current = cause;
  }
  return false;
}
