import type { Middleware } from 'koa';
import { forbidden, notFound, requireUser, type TokenVerifier } from '@sidecart/chassis';
import type { ProductStatus } from './product.entity.ts';

/** Who is looking: a signed-in user, or anonymous (no id, no roles). */
export interface Viewer {
  id?: string;
  roles: string[];
}

export const anonymous: Viewer = { roles: [] };

/** What visibility and ownership depend on. */
interface Owned {
  sellerId: string;
  status: ProductStatus;
}

export const isAdmin = (viewer: Viewer) => viewer.roles.includes('admin');

/** Everyone sees active products; a seller also their own drafts and archive; an admin all. */
export const canSee = (viewer: Viewer, product: Owned) =>
  product.status === 'active' || isAdmin(viewer) || product.sellerId === viewer.id;

/** The owning seller (still a seller) or an admin. */
export const canChange = (viewer: Viewer, product: Owned) =>
  isAdmin(viewer) || (product.sellerId === viewer.id && viewer.roles.includes('seller'));

/** 404 for a product the viewer may not see, 403 for one they see but may not change. */
export function assertCanChange(viewer: Viewer, product: Owned & { id: string }): void {
  if (!canSee(viewer, product)) throw notFound('product', product.id);
  if (!canChange(viewer, product)) throw forbidden('Only its seller or an admin may change this');
}

/** Reads routes serve anonymous users too: a token is checked only when one is sent. */
export function identifyViewer(verify: TokenVerifier): Middleware {
  const signedIn = requireUser(verify);
  return (ctx, next) => (ctx.get('authorization') ? signedIn(ctx, next) : next());
}

export const viewerOf = (state: { user?: Viewer & { id: string } }): Viewer =>
  state.user ?? anonymous;
