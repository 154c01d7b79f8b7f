import { conflict } from '@sidecart/chassis';
import type { ProductSummary } from '@sidecart/contracts';
import type { ProductsClient } from '../clients/products.client.ts';
import { findRecord } from '../orders/idempotency.ts';
import { placeOrder, type PlacementDeps } from '../orders/placement.use-cases.ts';
import type { Cart, CartLine, CartStore } from './cart.store.ts';

/** Why a line cannot be bought as it is: the product is gone, not on sale, or short of stock. */
type LineProblem = 'gone' | 'unavailable' | 'short' | null;

/** Each line with the product as it is now, and what stands in the way of buying it. */
export async function viewCart(products: ProductsClient, cart: Cart | undefined) {
  const items = cart?.items ?? [];
  if (items.length === 0) return { items: [] };
  const found = await products.lookup(items.map((line) => line.productId));
  const byId = new Map(found.products.map((product) => [product.id, product]));
  return { items: items.map((line) => describeLine(line, byId.get(line.productId))) };
}

function describeLine(line: CartLine, product: ProductSummary | undefined) {
  if (!product) return { ...line, problem: 'gone' satisfies LineProblem };
  const problem: LineProblem =
    product.status !== 'active' ? 'unavailable' : product.stock < line.quantity ? 'short' : null;
  return {
    ...line,
    name: product.name,
    sku: product.sku,
    sellerId: product.sellerId,
    unitPrice: { cents: product.priceCents, currency: product.currency },
    stock: product.stock,
    status: product.status,
    problem,
  };
}

/**
 * Places an order from the cart (the same saga and Idempotency-Key rules as POST /orders), then
 * empties the cart unless it was changed meanwhile (those changes are the customer's next cart).
 */
export async function checkOut(
  deps: PlacementDeps & { carts: CartStore },
  userId: string,
  idempotencyKey: string | undefined,
) {
  const cart = await deps.carts.read(userId);
  const items = cart?.items ?? [];
  // A repeat needs no cart (the first checkout emptied it): the key's first answer stands.
  const isRepeat = idempotencyKey && (await findRecord(deps.em, userId, idempotencyKey));
  if (items.length === 0 && !isRepeat) throw conflict('cart-empty', 'The cart is empty');
  const answer = await placeOrder(deps, {
    userId,
    items,
    idempotencyKey,
    route: 'checkout',
    hashed: null,
  });
  if (answer.status === 201 && cart) await deps.carts.drop(userId, cart.etag).catch(ignoreChanged);
  return answer;
}

const ignoreChanged = (error: unknown) => {
  if ((error as { code?: string }).code !== 'cart-changed') throw error;
};
