import { badRequest } from '@sidecart/chassis';
import { z } from 'zod';
import { lineItems } from '../orders/orders.schemas.ts';

export const putCartBody = z.strictObject({ items: lineItems });

const etagPattern = /^(?:W\/)?"([\w-]{1,128})"$/;

/** The cart's ETag in HTTP form: the store's etag, quoted. */
export const cartEtag = (etag: string) => `"${etag}"`;

/** One quoted ETag of a cart, `*`, or nothing; anything else is a 400. */
export function parseCartPrecondition(header: string): string | undefined {
  const value = header.trim();
  if (value === '') return undefined;
  if (value === '*') return '*';
  const match = etagPattern.exec(value);
  if (!match) throw badRequest('invalid-precondition', 'Send one ETag such as "<etag>", or *');
  return match[1];
}
