import type CircuitBreaker from 'opossum';
import { registerBatchMetrics, type BatchCounts } from '@sidecart/chassis';
import { Gauge, type Registry } from 'prom-client';

const states = ['closed', 'half_open', 'open'] as const;

const stateOf = (breaker: CircuitBreaker) =>
  breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed';

/** `circuit_breaker_state{name, state}`: 1 for the state each breaker is in, read at scrape time. */
export function registerBreakerMetrics(registry: Registry, breakers: CircuitBreaker[]): void {
  new Gauge({
    name: 'circuit_breaker_state',
    help: 'State of each circuit breaker: 1 for its current state (closed, half_open, open)',
    labelNames: ['name', 'state'],
    registers: [registry],
    collect() {
      for (const breaker of breakers) {
        for (const state of states) {
          this.set({ name: breaker.name, state }, stateOf(breaker) === state ? 1 : 0);
        }
      }
    },
  });
}

/**
 * `orders_reserve_calls_total` and `orders_reservations_total`, read at scrape time: their ratio
 * is how many reservations a call to products carried (ADR 0016).
 */
export function registerReservationMetrics(registry: Registry, counts: BatchCounts): void {
  registerBatchMetrics(registry, counts, {
    batches: { name: 'orders_reserve_calls_total', help: 'Reserve calls made to products' },
    items: {
      name: 'orders_reservations_total',
      help: 'Reservations sent to products, batched or alone',
    },
  });
}
