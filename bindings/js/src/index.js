// truflux for browsers and Node.js: a client of a truflux server over WebSocket
// (docs/PROTOCOL.md). Import { Client, Protocol } from this module; see README.md.
export { Client, TrufluxError, SUBPROTOCOL } from './client.js';
export { Protocol, EMPTY, BINARY, TEXT, MSGPACK } from './protocol.js';
export { errname } from './wire.js';
