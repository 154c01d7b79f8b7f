import pg from 'pg';
import { isConnectionFailure } from './connection-failure.ts';

type Release = (error?: Error | boolean) => void;

/**
 * A pg client that leaves the pool as soon as its connection is known to be broken.
 *
 * pg-pool discards a client only when its holder releases it, and Kysely (under MikroORM 7) does
 * not release a client whose ROLLBACK failed: a connection the server terminated in the middle of
 * a transaction stayed checked out for good, and once every slot leaked like this the service
 * hung. This client releases itself, with the error so the pool destroys it, the moment its
 * socket dies; the holder's later release is then a no-op. A query answered with a fatal error
 * (57P01 after `pg_terminate_backend`) marks the client broken before the socket closes, so a
 * holder's release in between destroys it instead of handing it to the next request.
 */
export class EvictingClient extends pg.Client {
  #release: Release | undefined;
  #broken: Error | undefined;

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', (error: Error) => {
      this.#broken ??= error;
      this.#releaseOnce(error);
    });
  }

  // pg-pool assigns `release` at every checkout; hand out a wrapper that releases at most once.
  get release(): Release {
    return (error) => this.#releaseOnce(error);
  }

  set release(release: Release) {
    this.#release = release;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's overloads, passed through
  override query(...args: any[]): any {
    const result: unknown = Reflect.apply(super.query, this, args);
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        if (isConnectionFailure(error)) this.#broken ??= error as Error;
      });
    }
    return result;
  }

  #releaseOnce(error?: Error | boolean): void {
    const release = this.#release;
    this.#release = undefined;
    release?.(error || this.#broken);
  }
}
