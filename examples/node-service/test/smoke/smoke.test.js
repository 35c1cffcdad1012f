// Is the deployment up and wired? Seconds, not minutes: run right after every deploy.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { get } from '../support/api.js';

test('the process is alive', async () => {
  const reply = await get('/healthz');

  assert.equal(reply.status, 200);
  assert.equal(reply.body.status, 'alive');
});

test('the service is ready with its database', async () => {
  const reply = await get('/readyz');

  assert.equal(reply.status, 200, `not ready: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.status, 'ready');
});

test('the notes endpoint answers from the database', async () => {
  const reply = await get('/notes?limit=1');

  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.ok(Array.isArray(reply.body.notes), JSON.stringify(reply.body));
});
