// A protocol definition (§10-§12): message names and their ids, schemas (payload types, a
// maximum size), handlers, and optional states. The same definition in C, Python and here
// gives the same ids and the same fingerprint.

import { fnv, sha256, enc } from './wire.js';

// Payload types (the low two bits of a MESSAGE kind) and their mask bits.
export const EMPTY = 0, BINARY = 1, TEXT = 2, MSGPACK = 3;
const TYPE_NAMES = { empty: EMPTY, binary: BINARY, text: TEXT, msgpack: MSGPACK };

export class Protocol {
  constructor() {
    this.byName = new Map();
    this._byId = new Map();
    this._sn = [];  // state names by number
  }

  // add(name[, schema][, handler]). schema: {types: ['text', 'binary', ...] or a mask
  // (1 empty, 2 binary, 4 text, 8 msgpack; 0 or absent: any), max: octets (0: none),
  // states: names it is valid in (absent: all)}. handler(data, client, name).
  add(name, schema, handler) {
    if (typeof schema === 'function') [schema, handler] = [{}, schema];
    schema = schema || {};
    const id = fnv(name);
    const len = enc.encode(name).length;
    if (!len || len > 255 || name.includes('\0')) throw RangeError('bad name ' + name);
    if (this._byId.has(id)) throw RangeError('id taken ' + name);
    let mask = schema.types || 0;
    if (Array.isArray(mask)) mask = mask.reduce((m, t) => m | (1 << TYPE_NAMES[t]), 0);
    // _k: the mask of payload types, _x: the maximum size, _h: the handler, _s: the states.
    const m = { name, id, _k: mask || 15, _x: schema.max || 0, _h: handler,
      _s: schema.states && schema.states.map((s) => this.state(s)) };
    this.byName.set(name, m);
    this._byId.set(id, m);
    return this;
  }

  on(name, handler) {
    this.byName.get(name)._h = handler;
    return this;
  }

  // Defines the states, in number order (state 0 first); returns the protocol.
  states(names) {
    names.forEach((s) => this.state(s));
    return this;
  }

  state(name) {
    let i = this._sn.indexOf(name);
    if (i < 0) {
      i = this._sn.push(name) - 1;
      if (i >= 32) throw RangeError('over 32 states');
    }
    return i;
  }

  ids() {
    return [...this._byId.keys()].sort((a, b) => a - b);
  }

  // SHA-256 of the canonical text (§11).
  fingerprint() {
    let t = '';
    for (const id of this.ids()) {
      const m = this._byId.get(id);
      const st = m._s ? m._s.slice().sort((a, b) => a - b).map((s) => this._sn[s]).join() : '*';
      t += `${id.toString(16).padStart(8, '0')} ${m.name} ${m._k} ${m._x} ${st}\n`;
    }
    if (this._sn.length) t += '#states ' + this._sn + '\n';
    return sha256(enc.encode(t));
  }
}
