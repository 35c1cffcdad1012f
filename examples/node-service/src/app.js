// HTTP routes as plain functions of (method, target, body): no sockets, easy to unit-test.

import { BadRequestError, StorageUnavailableError, parseLimit, parseNoteInput } from './notes.js';

// Ids are PostgreSQL integers: 1 to 2147483647.
const NOTE_PATH = /^\/notes\/([1-9][0-9]{0,9})$/;
const MAX_ID = 2 ** 31 - 1;

export function response(status, body, headers = {}) {
  return { status, body, headers };
}

function error(status, message, headers = {}) {
  return response(status, { error: message }, headers);
}

export class NotesApp {
  // store: add({text}), get(id), list(limit), ping() -- see store.js.
  constructor({ store, logger }) {
    this.store = store;
    this.logger = logger;
    this.draining = false;
    this.routes = [
      { match: (path) => path === '/healthz', methods: { GET: () => this.health() } },
      { match: (path) => path === '/readyz', methods: { GET: () => this.readiness() } },
      {
        match: (path) => path === '/notes',
        methods: {
          GET: (url) => this.listNotes(url),
          POST: (_url, body) => this.createNote(body),
        },
      },
      {
        match: (path) => NOTE_PATH.exec(path),
        methods: { GET: (_url, _body, found) => this.getNote(found[1]) },
      },
    ];
  }

  // From now on /readyz fails, so load balancers stop sending new traffic.
  startDraining() {
    this.draining = true;
  }

  async handle(method, target, body = Buffer.alloc(0)) {
    const url = new URL(target, 'http://service.invalid');
    for (const route of this.routes) {
      const found = route.match(url.pathname);
      if (!found) {
        continue;
      }
      const handler = route.methods[method];
      if (!handler) {
        const allow = Object.keys(route.methods).sort().join(', ');
        return error(405, `${method} is not allowed on ${url.pathname}`, { Allow: allow });
      }
      try {
        return await handler(url, body, found);
      } catch (caught) {
        return this.failure(caught, method, url.pathname);
      }
    }
    return error(404, `no route for ${url.pathname}`);
  }

  failure(caught, method, path) {
    if (caught instanceof BadRequestError) {
      return error(400, caught.message);
    }
    if (caught instanceof StorageUnavailableError) {
      this.logger.warn('database unavailable', { method, path, error: caught.message });
      return error(503, 'database unavailable, retry later', { 'Retry-After': '1' });
    }
    // The request boundary: a bug answers 500 instead of dropping the connection.
    this.logger.error('unhandled error', { method, path, error: caught, stack: caught?.stack });
    return error(500, 'internal error');
  }

  health() {
    return response(200, { status: 'alive' });
  }

  async readiness() {
    if (this.draining) {
      return response(503, { status: 'draining' });
    }
    try {
      await this.store.ping();
    } catch (caught) {
      if (caught instanceof StorageUnavailableError) {
        return response(503, { status: 'not ready', reason: 'database unavailable' });
      }
      throw caught;
    }
    return response(200, { status: 'ready' });
  }

  async createNote(body) {
    const note = await this.store.add(parseNoteInput(body));
    return response(201, note, { Location: `/notes/${note.id}` });
  }

  async getNote(raw) {
    const id = Number(raw);
    const note = id <= MAX_ID ? await this.store.get(id) : null;
    return note ? response(200, note) : error(404, `no note ${raw}`);
  }

  async listNotes(url) {
    const notes = await this.store.list(parseLimit(url.searchParams));
    return response(200, { notes });
  }
}
