import type { Logger } from '@sidecart/chassis/logger';
import pg from 'pg';
import { publishedChannel, type StreamKey } from './broker.ts';

export interface PublishedListener {
  /** Settles once the first LISTEN is in place (or has failed: polling covers that). */
  ready: Promise<void>;
  close(): Promise<void>;
}

const reconnectDelayMs = 1000;

/**
 * LISTENs for publishes on its own connection (a pooled one cannot hold a LISTEN), so a
 * subscriber wakes within milliseconds; the consumers' periodic poll covers the gaps while the
 * connection is being re-established.
 */
export function listenForPublishes(
  pool: pg.Pool,
  log: Logger,
  onPublished: (stream: StreamKey) => void,
): PublishedListener {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async () => {
    const next = new pg.Client(pool.options);
    next.on('notification', (message) => {
      try {
        const [component, topic] = JSON.parse(message.payload ?? '') as [string, string];
        onPublished({ component, topic });
      } catch {
        log.warn({ payload: message.payload }, 'ignored a malformed pub/sub notification');
      }
    });
    next.on('error', (error) => {
      log.warn({ err: error }, 'pub/sub notification connection failed; reconnecting');
      reconnectLater(next);
    });
    next.on('end', () => reconnectLater(next));
    client = next;
    try {
      await next.connect();
      await next.query(`listen ${publishedChannel}`);
    } catch (error) {
      if (!closed) log.warn({ err: error }, 'pub/sub notifications unavailable; polling only');
      reconnectLater(next);
    }
  };

  const reconnectLater = (failed: pg.Client) => {
    if (closed || client !== failed) return;
    client = undefined;
    failed.end().catch(() => {});
    retry = setTimeout(() => void connect(), reconnectDelayMs);
  };

  return {
    ready: connect(),
    async close() {
      closed = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}
