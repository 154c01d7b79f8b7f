export { eventNames, events, isEventName, parseEvent } from './events.ts';
export type { EventData, EventName, ParsedEvent } from './events.ts';
export { id, money, occurredAt, orderLine, reason, roles, version } from './fields.ts';
export * from './products.internal.ts';
