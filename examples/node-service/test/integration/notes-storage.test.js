// What the API says it stored is what PostgreSQL holds, and rejected input stores nothing.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';

import { get, post } from '../support/api.js';
import { connect } from '../support/database.js';

let database;

before(async () => {
  database = await connect();
});

after(async () => {
  await database?.end();
});

const unique = (prefix) => `${prefix}-${randomUUID().slice(0, 12)}`;

async function rowsWithText(text) {
  const result = await database.query(
    'SELECT id, text, created_at FROM notes WHERE text = $1',
    [text],
  );
  return result.rows;
}

async function count() {
  const result = await database.query('SELECT count(*)::int AS n FROM notes');
  return result.rows[0].n;
}

test('a created note is one row matching the response', async () => {
  const text = unique('milk');

  const reply = await post('/notes', { text });

  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  const rows = await rowsWithText(text);
  assert.equal(rows.length, 1);
  assert.equal(reply.body.id, rows[0].id);
  assert.equal(reply.body.text, rows[0].text);
  assert.equal(reply.body.created_at, rows[0].created_at.toISOString());
  assert.equal(reply.headers.get('location'), `/notes/${rows[0].id}`);
});

test('the text is stored trimmed', async () => {
  const text = unique('eggs');

  const reply = await post('/notes', { text: `  ${text} ` });

  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  assert.equal((await rowsWithText(text)).length, 1);
});

test('a rejected note writes nothing', async () => {
  const text = unique('x'.repeat(280)); // Over the limit of 280 characters.
  const countBefore = await count();

  const reply = await post('/notes', { text });

  assert.equal(reply.status, 400);
  assert.deepEqual(await rowsWithText(text), []);
  assert.equal(await count(), countBefore);
});

test('fetching by id reads the stored row: nothing is cached', async () => {
  const created = await post('/notes', { text: unique('bread') });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await database.query('UPDATE notes SET text = $1 WHERE id = $2', ['changed', created.body.id]);

  const fetched = await get(`/notes/${created.body.id}`);

  assert.equal(fetched.status, 200);
  assert.equal(fetched.body.text, 'changed');
});

test('the listing returns stored rows, newest first', async () => {
  const createdIds = [];
  for (let index = 0; index < 3; index += 1) {
    const created = await post('/notes', { text: unique(`order${index}`) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    createdIds.push(created.body.id);
  }

  const listing = await get('/notes?limit=100');

  assert.equal(listing.status, 200);
  const listedIds = listing.body.notes.map((note) => note.id);
  assert.deepEqual(listedIds, [...listedIds].sort((a, b) => b - a));
  // Other suites may write concurrently: check order and content, not exact neighbours.
  assert.deepEqual(
    listedIds.filter((id) => createdIds.includes(id)),
    [...createdIds].reverse(),
  );
  const stored = await database.query('SELECT id, text FROM notes WHERE id = ANY($1)', [listedIds]);
  assert.deepEqual(
    Object.fromEntries(listing.body.notes.map((note) => [note.id, note.text])),
    Object.fromEntries(stored.rows.map((row) => [row.id, row.text])),
  );
});
