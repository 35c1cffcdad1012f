import assert from 'node:assert/strict';
import { test } from 'node:test';

import pg from 'pg';

import { isUnavailable } from '../../src/store.js';

function databaseError(code) {
  const error = new pg.DatabaseError('from the server', 0, 'error');
  error.code = code;
  return error;
}

test('a failed connection means the database is unavailable', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    code: 'ECONNREFUSED',
  });

  assert.ok(isUnavailable(refused));
  assert.ok(isUnavailable(new Error('timeout exceeded when trying to connect')));
});

test('server errors of the connection, auth, resource and shutdown classes too', () => {
  for (const code of ['08006', '28P01', '53300', '57P01']) {
    assert.ok(isUnavailable(databaseError(code)), code);
  }
});

test('a wrong query is a bug, not an outage', () => {
  for (const code of ['42P01', '23505', '22001']) {
    assert.equal(isUnavailable(databaseError(code)), false, code);
  }
});
