import net from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** Undefined when the server closed (or the wait ended) before a whole response arrived. */
  response?: RawResponse;
  /** Whether the server had closed the connection when the exchange ended. */
  closed: boolean;
}

/**
 * Writes bytes exactly as given (fetch cannot send a malformed request) and reads one response.
 * Resolves once a whole response arrived, the server closed, or `waitMs` passed.
 */
export function rawExchange(
  port: number,
  request: string | Buffer,
  options: { waitMs?: number; untilClosed?: boolean } = {},
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ response: parseResponse(received), closed });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 5000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!options.untilClosed && parseResponse(received)) finish(false);
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.write(request);
  });
}

/** A complete response at the start of `bytes` (Content-Length framing), or undefined. */
export function parseResponse(bytes: Buffer): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = bytes.subarray(end + 4);
  if (body.length < length) return undefined;
  return {
    status: Number(statusLine!.split(' ')[1]),
    headers,
    body: body.subarray(0, length).toString('utf8'),
  };
}
