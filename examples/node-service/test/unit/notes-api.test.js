import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { NotesApp } from '../../src/app.js';
import { MAX_PAGE_SIZE, MAX_TEXT_LENGTH } from '../../src/notes.js';
import { MemoryNoteStore, silentLogger } from '../support/memory-store.js';

let store;
let logger;
let app;

beforeEach(() => {
  store = new MemoryNoteStore();
  logger = silentLogger();
  app = new NotesApp({ store, logger });
});

const post = (document) => app.handle('POST', '/notes', Buffer.from(JSON.stringify(document)));

describe('POST /notes', () => {
  test('stores the trimmed text and says where the note lives', async () => {
    const reply = await post({ text: '  Buy milk\u00a0' });

    assert.equal(reply.status, 201);
    assert.equal(reply.body.text, 'Buy milk');
    assert.equal(reply.headers.Location, `/notes/${reply.body.id}`);
    assert.deepEqual(store.notes, [reply.body]);
  });

  test('accepts the longest text allowed, counted in characters', async () => {
    const reply = await post({ text: '\u00e9'.repeat(MAX_TEXT_LENGTH) });

    assert.equal(reply.status, 201);
  });

  const refused = [
    ['not JSON', Buffer.from('{"text": '), /not valid JSON/],
    ['an array', [{ text: 'x' }], /must be a JSON object/],
    ['null', null, /must be a JSON object/],
    ['no text', {}, /'text' is required/],
    ['a number', { text: 7 }, /'text' is required and must be a string/],
    ['blank text', { text: ' \t ' }, /must not be blank/],
    ['an unknown field', { text: 'x', owner: 'me' }, /unknown field\(s\) owner/],
    ['text over the limit', { text: 'x'.repeat(MAX_TEXT_LENGTH + 1) }, /longer than 280/],
    ['a control character', { text: 'a\u0007b' }, /control characters/],
    ['a newline inside', { text: 'a\nb' }, /control characters/],
  ];
  for (const [what, document, message] of refused) {
    test(`refuses ${what} with 400 and stores nothing`, async () => {
      const body = Buffer.isBuffer(document) ? document : Buffer.from(JSON.stringify(document));

      const reply = await app.handle('POST', '/notes', body);

      assert.equal(reply.status, 400);
      assert.match(reply.body.error, message);
      assert.deepEqual(store.notes, []);
    });
  }
});

describe('GET /notes and /notes/{id}', () => {
  test('lists the newest first, up to the limit', async () => {
    for (const text of ['one', 'two', 'three']) {
      assert.equal((await post({ text })).status, 201);
    }

    const reply = await app.handle('GET', '/notes?limit=2');

    assert.equal(reply.status, 200);
    assert.deepEqual(
      reply.body.notes.map((note) => note.text),
      ['three', 'two'],
    );
  });

  for (const limit of ['0', `${MAX_PAGE_SIZE + 1}`, 'ten', '-1', '1.5']) {
    test(`refuses limit=${limit}`, async () => {
      const reply = await app.handle('GET', `/notes?limit=${limit}`);

      assert.equal(reply.status, 400);
      assert.match(reply.body.error, /'limit' must be an integer from 1 to 100/);
    });
  }

  test('fetches one note by id, and 404 for an unknown or impossible id', async () => {
    const created = await post({ text: 'find me' });

    assert.deepEqual((await app.handle('GET', `/notes/${created.body.id}`)).body, created.body);
    assert.equal((await app.handle('GET', '/notes/99')).status, 404);
    assert.equal((await app.handle('GET', '/notes/9999999999')).status, 404);
    assert.equal((await app.handle('GET', '/notes/0')).status, 404);
  });
});

describe('errors', () => {
  test('an unknown route is 404 and a wrong method 405 with Allow', async () => {
    assert.equal((await app.handle('GET', '/nope')).status, 404);

    const reply = await app.handle('DELETE', '/notes');

    assert.equal(reply.status, 405);
    assert.equal(reply.headers.Allow, 'GET, POST');
  });

  test('a database outage answers 503 with Retry-After, not a crash', async () => {
    store.available = false;

    const reply = await post({ text: 'later' });

    assert.equal(reply.status, 503);
    assert.equal(reply.headers['Retry-After'], '1');
    assert.ok(logger.lines.some((line) => line.message === 'database unavailable'));
  });

  test('a bug answers 500 and is logged with its stack', async () => {
    store.list = async () => {
      throw new TypeError('boom');
    };

    const reply = await app.handle('GET', '/notes');

    assert.deepEqual(reply, { status: 500, body: { error: 'internal error' }, headers: {} });
    const [logged] = logger.lines.filter((line) => line.level === 'error');
    assert.match(logged.stack, /TypeError: boom/);
  });
});
