// The store's interface in memory, for the unit suite: no database, no network.

import { StorageUnavailableError } from '../../src/notes.js';

export class MemoryNoteStore {
  constructor() {
    this.notes = [];
    this.available = true;
    this.gate = null;
  }

  // Until the returned function is called, add() waits: a request held in flight.
  hold() {
    let release;
    this.gate = new Promise((resolve) => {
      release = resolve;
    });
    return () => release();
  }

  check() {
    if (!this.available) {
      throw new StorageUnavailableError('the memory store is switched off');
    }
  }

  async ping() {
    this.check();
  }

  async add({ text }) {
    this.check();
    if (this.gate) {
      await this.gate;
    }
    const note = { id: this.notes.length + 1, text, created_at: new Date().toISOString() };
    this.notes.push(note);
    return note;
  }

  async get(id) {
    this.check();
    return this.notes.find((note) => note.id === id) ?? null;
  }

  async list(limit) {
    this.check();
    return this.notes.slice(-limit).reverse();
  }
}

export function silentLogger() {
  const lines = [];
  const record = (level) => (message, fields) => lines.push({ level, message, ...fields });
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}
