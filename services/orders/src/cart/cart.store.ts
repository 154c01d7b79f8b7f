import { randomUUID } from 'node:crypto';
import { AppError, isEtagMismatch, type Dapr } from '@sidecart/chassis';

export interface CartLine {
  productId: string;
  quantity: number;
}

/** What the state store holds per customer. `revision` tells our own write from a later one. */
export interface StoredCart {
  items: CartLine[];
  revision: string;
  updatedAt: string;
}

export interface Cart {
  items: CartLine[];
  /** The state store's ETag (state.postgresql v2: a UUID, new on every write). */
  etag: string;
}

export interface CartStore {
  read(userId: string): Promise<Cart | undefined>;
  /** Writes only if the cart is still at `etag`, or (no etag) does not exist yet; else 412. */
  write(userId: string, items: CartLine[], etag?: string): Promise<{ etag?: string }>;
  /** With an etag: only that version (412 otherwise); without: whatever is there. */
  drop(userId: string, etag?: string): Promise<void>;
}

const keyOf = (userId: string) => `cart-${userId}`;

const cartChanged = () =>
  new AppError(412, 'cart-changed', 'The cart was changed since you read it: read it again');

/** Carts in the Dapr state store, with first-write concurrency on the store's ETags. */
export function daprCartStore(dapr: Dapr, store: string): CartStore {
  const read = async (userId: string) => {
    const found = await dapr.getState<StoredCart>(store, keyOf(userId));
    if (!found) return undefined;
    return { items: found.value.items, etag: found.etag, revision: found.value.revision };
  };
  return {
    read: async (userId) => {
      const cart = await read(userId);
      return cart && { items: cart.items, etag: cart.etag };
    },
    async write(userId, items, etag) {
      const value: StoredCart = {
        items,
        revision: randomUUID(),
        updatedAt: new Date().toISOString(),
      };
      try {
        await dapr.saveState(store, [
          { key: keyOf(userId), value, etag, concurrency: 'first-write' },
        ]);
      } catch (error) {
        if (isEtagMismatch(error)) throw cartChanged();
        throw error;
      }
      // Dapr answers a save with no ETag: read it back, and hand it out only if no later write
      // has replaced ours (its ETag would let the client overwrite a change it never saw).
      const stored = await read(userId);
      return { etag: stored?.revision === value.revision ? stored.etag : undefined };
    },
    async drop(userId, etag) {
      try {
        await dapr.deleteState(store, keyOf(userId), { etag });
      } catch (error) {
        if (isEtagMismatch(error)) throw cartChanged();
        throw error;
      }
    },
  };
}
