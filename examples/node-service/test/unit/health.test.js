import assert from 'node:assert/strict';
import { test } from 'node:test';

import { NotesApp } from '../../src/app.js';
import { MemoryNoteStore, silentLogger } from '../support/memory-store.js';

test('alive and ready while the database answers', async () => {
  const app = new NotesApp({ store: new MemoryNoteStore(), logger: silentLogger() });

  assert.deepEqual((await app.handle('GET', '/healthz')).body, { status: 'alive' });
  assert.deepEqual(await app.handle('GET', '/readyz'), {
    status: 200,
    body: { status: 'ready' },
    headers: {},
  });
});

test('alive but not ready without its database', async () => {
  const store = new MemoryNoteStore();
  store.available = false;
  const app = new NotesApp({ store, logger: silentLogger() });

  assert.equal((await app.handle('GET', '/healthz')).status, 200);
  const reply = await app.handle('GET', '/readyz');
  assert.equal(reply.status, 503);
  assert.equal(reply.body.reason, 'database unavailable');
});

test('not ready once draining, even with the database up', async () => {
  const app = new NotesApp({ store: new MemoryNoteStore(), logger: silentLogger() });

  app.startDraining();

  assert.deepEqual((await app.handle('GET', '/readyz')).body, { status: 'draining' });
  assert.equal((await app.handle('GET', '/healthz')).status, 200);
});
