import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Product } from '../products/product.entity.ts';
import { recordProductSaved } from '../products/products.outbox.ts';

// LOCAL DEVELOPMENT ONLY: a small catalog so that a fresh `npm start` has something to browse.
// migrate.ts seeds it when SEED_DEMO_CATALOG=1, which only dev/src/stack/services.ts sets; the
// config refuses it with NODE_ENV=production, and tests never set it.

/** The demo seller: a fixed id no real account has (auth issues version-7 ids). */
export const demoSellerId = 'dec0de00-0000-4000-8000-000000000001';

const items: [sku: string, name: string, priceCents: number, description: string][] = [
  ['DEMO-MUG', 'Enamel camping mug', 1450, 'Light steel mug with a blue rim; survives campfires.'],
  ['DEMO-TEE', 'Organic cotton t-shirt', 2200, 'Heavyweight tee, garment dyed, in forest green.'],
  ['DEMO-SOCKS', 'Merino hiking socks', 1800, 'Cushioned merino wool socks for long walks.'],
  ['DEMO-CAP', 'Waxed canvas cap', 2600, 'Six-panel cap in waxed cotton canvas, adjustable strap.'],
  [
    'DEMO-BOTTLE',
    'Insulated water bottle',
    3200,
    'Keeps drinks cold for a day, hot for twelve hours.',
  ],
  [
    'DEMO-NOTE',
    'Dot-grid notebook',
    1200,
    'A5 notebook, 160 pages of fountain-pen friendly paper.',
  ],
  [
    'DEMO-PEN',
    'Brass fountain pen',
    5400,
    'Solid brass body that ages to a warm patina; fine nib.',
  ],
  ['DEMO-LAMP', 'Desk lamp with dimmer', 7900, 'Warm LED desk lamp with a stepless dimmer.'],
  ['DEMO-MAT', 'Cork yoga mat', 6800, 'Natural cork top on a rubber base, non-slip when wet.'],
  ['DEMO-TOTE', 'Canvas tote bag', 1600, 'Sturdy canvas tote with an inner pocket.'],
  [
    'DEMO-BEANS',
    'Single-origin coffee beans',
    1350,
    'Washed Ethiopian coffee, 250 g, notes of jasmine.',
  ],
  ['DEMO-TEA', 'Loose-leaf green tea', 990, 'Japanese sencha, 100 g, grassy and sweet.'],
  ['DEMO-KNIFE', 'Chef knife 20 cm', 8900, 'Carbon steel chef knife with an oak handle.'],
  ['DEMO-BOARD', 'Walnut cutting board', 4500, 'End-grain walnut board that is gentle on knives.'],
  ['DEMO-APRON', 'Linen apron', 3400, 'Stonewashed linen apron with adjustable neck strap.'],
  ['DEMO-CANDLE', 'Beeswax candle', 1100, 'Hand-poured beeswax candle, burns for 30 hours.'],
  ['DEMO-PLANT', 'Terracotta plant pot', 1900, 'Unglazed terracotta pot with saucer, 15 cm.'],
  ['DEMO-HEADPH', 'Wireless headphones', 12900, 'Over-ear headphones with 40 hours of battery.'],
  ['DEMO-CABLE', 'Braided USB-C cable', 1500, 'Two metres, 100 W charging, braided nylon.'],
  [
    'DEMO-PUZZLE',
    'Wooden puzzle box',
    2900,
    'A puzzle box with a hidden drawer; ten moves to open.',
  ],
];

/** Creates the demo catalog unless the demo seller has products already; true if it did. */
export async function seedDemoCatalog(em: EntityManager): Promise<boolean> {
  if ((await em.count(Product, { sellerId: demoSellerId })) > 0) return false;
  try {
    await em.transactional(async (tx) => {
      const products = items.map(([sku, name, priceCents, description], index) =>
        tx.create(Product, {
          sellerId: demoSellerId,
          sku,
          name: `${name} (demo)`,
          description: `${description} Demo data for local development.`,
          priceCents,
          currency: 'EUR',
          stock: 10 + ((index * 7) % 40),
          status: 'active',
        }),
      );
      await tx.flush();
      for (const product of products) recordProductSaved(tx, product, 'product-created');
    });
    return true;
  } catch (error) {
    // Another seeder got there first.
    if (error instanceof UniqueConstraintViolationException) return false;
    throw error;
  }
}
