import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`Request bodies are limited to ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** A request body as the attempts to forward it see it. */
export interface RequestBody {
  /** What the next attempt sends: the same bytes every time, or the one stream. */
  next(): Buffer | Readable | null;
  /** Whether another attempt could still send the whole body. */
  readonly replayable: boolean;
}

interface BodyLimits {
  replayBytes: number;
  maxBodyBytes: number;
}

const noBody: RequestBody = { next: () => null, replayable: true };

/**
 * Small bodies (up to `replayBytes`, above what any service accepts) are read whole, so that a
 * failed attempt can be replayed on another replica. Larger ones are streamed as they arrive —
 * never held — so a large upload costs socket buffers, not its size; such a request is replayed
 * only while none of it has been read (a refused connection). Returns synchronously when there
 * is no body, the common case.
 */
export function readBody(
  req: IncomingMessage,
  limits: BodyLimits,
): RequestBody | Promise<RequestBody> {
  const declared = req.headers['content-length'];
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return noBody;
  const length = declared === undefined ? Number.NaN : Number(declared);
  if (length === 0) return noBody;
  if (length > limits.maxBodyBytes) throw new BodyTooLargeError(limits.maxBodyBytes);
  if (length > limits.replayBytes) return streamedBody(req, [], limits.maxBodyBytes);
  return readHead(req, limits);
}

/** Reads up to `replayBytes`: the whole body if it is that small, else streams the rest. */
function readHead(req: IncomingMessage, limits: BodyLimits): Promise<RequestBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => req.off('data', onData).off('end', onEnd).off('error', onError);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limits.replayBytes) return;
      req.pause();
      stop();
      resolve(streamedBody(req, chunks, limits.maxBodyBytes));
    };
    const onEnd = () => {
      stop();
      const bytes = Buffer.concat(chunks);
      resolve({ next: () => bytes, replayable: true });
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function streamedBody(req: IncomingMessage, head: Buffer[], limit: number): RequestBody {
  let started = false;
  return {
    next: () =>
      new StreamedBody(req, head, limit, () => {
        started = true;
      }),
    get replayable() {
      return !started;
    },
  };
}

/**
 * The client's body, passed on with backpressure and counted against the cap. It reads nothing
 * until the replica's connection asks for data, so a refused attempt leaves the body untouched.
 */
class StreamedBody extends Readable {
  readonly #req: IncomingMessage;
  readonly #head: Buffer[];
  readonly #limit: number;
  readonly #onStart: () => void;
  #size = 0;
  #started = false;

  constructor(req: IncomingMessage, head: Buffer[], limit: number, onStart: () => void) {
    super();
    this.#req = req;
    this.#head = head;
    this.#limit = limit;
    this.#onStart = onStart;
  }

  override _read(): void {
    if (this.#started) {
      this.#req.resume();
      return;
    }
    this.#started = true;
    this.#onStart();
    for (const chunk of this.#head) this.#onData(chunk);
    this.#req.on('data', this.#onData).on('end', this.#onEnd).on('error', this.#onError);
    this.#req.resume();
  }

  // The replica is done with it (it may have answered early, as a 413 does): stop reading, rather
  // than drain what the client still sends. The request timeout then closes the connection.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#req.off('data', this.#onData).off('end', this.#onEnd).off('error', this.#onError);
    this.#req.pause();
    callback(error);
  }

  #onData = (chunk: Buffer) => {
    this.#size += chunk.length;
    if (this.#size > this.#limit) return this.destroy(new BodyTooLargeError(this.#limit));
    if (!this.push(chunk)) this.#req.pause();
  };

  #onEnd = () => this.push(null);

  #onError = (error: Error) => this.destroy(error);
}
