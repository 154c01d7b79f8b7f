import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProductSummary, ReserveResponse } from '@sidecart/contracts';

// Stands in for daprd at the edge of the orders app: the state API as state.postgresql v2
// answers it (UUID etags, first-write, docs/dapr-behaviour.md §3), and invocations of products'
// internal routes answered by an in-memory products with its contract's rules (idempotent
// reserve by order id, all-or-nothing per order). Everything inside orders is real.

export type ProductsMode = 'up' | 'down' | 'hang';

export interface FakeProducts {
  catalog: Map<string, ProductSummary>;
  reservations: Map<string, ReserveResponse>;
  mode: ProductsMode;
  /** While set, every call to products waits for it before answering (a call in flight). */
  gate?: Promise<void>;
  calls: { method: string; body: unknown }[];
}

/** The reservations products was asked for, one call or batched. */
export const reservationsAsked = (products: FakeProducts): { orderId: string }[] =>
  products.calls.flatMap(({ method, body }: { method: string; body: any }) => {
    if (method === 'internal/reservations') return [body];
    return method === 'internal/reservations/batch' ? body.reservations : [];
  });

export interface FakeSidecar {
  port: number;
  products: FakeProducts;
  /** Stored state by key (`cart-<userId>`), with its etag. */
  state: Map<string, { value: unknown; etag: string }>;
  /** Adds an active product with stock; returns it. */
  addProduct(overrides?: Partial<ProductSummary>): ProductSummary;
  close(): Promise<void>;
}

export async function startFakeSidecar(): Promise<FakeSidecar> {
  const products: FakeProducts = {
    catalog: new Map(),
    reservations: new Map(),
    mode: 'up',
    calls: [],
  };
  const state = new Map<string, { value: unknown; etag: string }>();
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = text ? JSON.parse(text) : undefined;
    const url = new URL(req.url ?? '/', 'http://sidecar');
    const path = url.pathname;
    if (path === '/v1.0/metadata') return json(res, 200, { id: 'orders' });
    const invoke = /^\/v1\.0\/invoke\/products\/method\/(.+)$/.exec(path);
    if (invoke) return invokeProducts(products, invoke[1]!, body, res);
    if (path === '/v1.0/state/statestore/bulk') {
      const keys = body.keys as string[];
      return json(
        res,
        200,
        keys.map((key) => {
          const item = state.get(key);
          return item ? { key, data: item.value, etag: item.etag } : { key };
        }),
      );
    }
    if (path === '/v1.0/state/statestore' && req.method === 'POST') {
      for (const item of body as {
        key: string;
        value: unknown;
        etag?: string;
        options?: { concurrency?: string };
      }[]) {
        const current = state.get(item.key);
        if (
          item.etag
            ? current?.etag !== item.etag
            : current && item.options?.concurrency === 'first-write'
        ) {
          const message = item.etag
            ? 'failed saving state in state store statestore: possible etag mismatch. error from state store'
            : 'failed saving state in state store statestore: no item was updated';
          return json(res, item.etag ? 409 : 500, { errorCode: 'ERR_STATE_SAVE', message });
        }
        state.set(item.key, { value: item.value, etag: randomUUID() });
      }
      return end(res, 204);
    }
    const del = /^\/v1\.0\/state\/statestore\/(.+)$/.exec(path);
    if (del && req.method === 'DELETE') {
      const key = decodeURIComponent(del[1]!);
      const etag = req.headers['if-match'];
      if (etag && state.get(key)?.etag !== etag) {
        return json(res, 409, {
          errorCode: 'ERR_STATE_DELETE',
          message: `failed deleting state with key ${key}: possible etag mismatch`,
        });
      }
      state.delete(key);
      return end(res, 204);
    }
    json(res, 404, { errorCode: 'ERR_DIRECT_INVOKE', message: `no route ${req.method} ${path}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    products,
    state,
    addProduct(overrides = {}) {
      const product: ProductSummary = {
        id: randomUUID(),
        sellerId: randomUUID(),
        sku: `SKU-${products.catalog.size + 1}`,
        name: 'A product',
        priceCents: 1_250,
        currency: 'EUR',
        stock: 10,
        status: 'active',
        version: 1,
        ...overrides,
      };
      products.catalog.set(product.id, product);
      return product;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function invokeProducts(
  products: FakeProducts,
  method: string,
  body: any,
  res: ServerResponse,
) {
  products.calls.push({ method, body });
  await products.gate;
  if (products.mode === 'hang') return;
  if (products.mode === 'down') {
    return json(res, 500, {
      errorCode: 'ERR_DIRECT_INVOKE',
      message: 'failed to invoke, id: products, err: no healthy instance',
    });
  }
  if (method === 'internal/products/lookup') {
    const ids = body.ids as string[];
    return json(res, 200, {
      products: ids.flatMap((id) => products.catalog.get(id) ?? []),
      missing: ids.filter((id) => !products.catalog.has(id)),
    });
  }
  if (method === 'internal/reservations') return json(res, 200, reserve(products, body));
  if (method === 'internal/reservations/batch') {
    return json(res, 200, { results: body.reservations.map((one: any) => reserve(products, one)) });
  }
  json(res, 404, { code: 'not-found' });
}

/** Products' rule: all lines or none, once per order id (a repeat answers the first outcome). */
function reserve(
  products: FakeProducts,
  request: { orderId: string; lines: { productId: string; quantity: number }[] },
) {
  const earlier = products.reservations.get(request.orderId);
  if (earlier) return earlier;
  const shortLines = request.lines.flatMap(({ productId, quantity }) => {
    const product = products.catalog.get(productId);
    const available = product?.status === 'active' ? product.stock : 0;
    return available >= quantity ? [] : [{ productId, requested: quantity, available }];
  });
  let outcome: ReserveResponse;
  if (shortLines.length > 0) {
    outcome = { status: 'rejected', orderId: request.orderId, shortLines };
  } else {
    const lines = request.lines.map(({ productId, quantity }) => {
      const product = products.catalog.get(productId)!;
      product.stock -= quantity;
      return { productId, quantity, priceCents: product.priceCents, currency: product.currency };
    });
    outcome = { status: 'reserved', orderId: request.orderId, lines };
  }
  products.reservations.set(request.orderId, outcome);
  return outcome;
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function end(res: ServerResponse, status: number) {
  res.writeHead(status).end();
}
