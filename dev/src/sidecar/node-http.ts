/**
 * node:http, taken without an ESM import: Node builds the ESM namespace of a builtin by reading
 * every export, and node:http's lazy `WebSocket` getter then loads its bundled undici with the
 * llhttp WebAssembly — about 14 MiB resident in a process that never opens a WebSocket
 * (nodejs/node#59686). Type-only imports from 'node:http' cost nothing and stay as they are.
 */
export const http = process.getBuiltinModule('node:http');
