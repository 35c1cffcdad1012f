import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { ConfigError, describeDatabase, loadSettings } from '../../src/config.js';

const DATABASE = { DB_HOST: 'db', DB_USER: 'notes', DB_NAME: 'notes' };

test('defaults apply when only the database is named', () => {
  const settings = loadSettings(DATABASE);

  assert.equal(settings.host, '0.0.0.0');
  assert.equal(settings.port, 3000);
  assert.equal(settings.drainSeconds, 10);
  assert.equal(settings.shutdownDelaySeconds, 0);
  assert.deepEqual(settings.database, {
    host: 'db',
    port: 5432,
    user: 'notes',
    database: 'notes',
  });
  assert.equal(settings.database.password, undefined);
});

test('every setting is read from its variable', () => {
  const settings = loadSettings({
    ...DATABASE,
    HOST: '127.0.0.1',
    PORT: '8081',
    DB_PORT: '6543',
    DB_PASSWORD: 's3cret',
    DRAIN_SECONDS: '2.5',
    SHUTDOWN_DELAY_SECONDS: '1',
  });

  assert.equal(settings.host, '127.0.0.1');
  assert.equal(settings.port, 8081);
  assert.equal(settings.database.port, 6543);
  assert.equal(settings.database.password, 's3cret');
  assert.equal(settings.drainSeconds, 2.5);
  assert.equal(settings.shutdownDelaySeconds, 1);
});

test('the password file wins over nothing and loses its trailing newline', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'node-service-')), 'password');
  writeFileSync(file, 'from-a-file\n');

  assert.equal(loadSettings({ ...DATABASE, DB_PASSWORD_FILE: file }).database.password, 'from-a-file');
});

const BAD = [
  [{ DB_USER: 'notes', DB_NAME: 'notes' }, /DB_HOST is not set/],
  [{ DB_HOST: 'db', DB_NAME: 'notes' }, /DB_USER is not set/],
  [{ DB_HOST: 'db', DB_USER: 'notes' }, /DB_NAME is not set/],
  [{ ...DATABASE, PORT: '80a' }, /PORT="80a" is not a TCP port/],
  [{ ...DATABASE, PORT: '70000' }, /PORT="70000" is not a TCP port/],
  [{ ...DATABASE, DB_PORT: '0' }, /DB_PORT="0" is not a TCP port/],
  [{ ...DATABASE, DRAIN_SECONDS: 'soon' }, /DRAIN_SECONDS="soon" is not a duration/],
  [{ ...DATABASE, DRAIN_SECONDS: '-1' }, /DRAIN_SECONDS="-1" is not a duration/],
  [{ ...DATABASE, DRAIN_SECONDS: '2', SHUTDOWN_DELAY_SECONDS: '2' }, /must be shorter than/],
  [{ ...DATABASE, DB_PASSWORD: 'a', DB_PASSWORD_FILE: '/x' }, /both set: keep one/],
  [{ ...DATABASE, DB_PASSWORD_FILE: '/nonexistent/pw' }, /cannot be read \(ENOENT\)/],
];

for (const [env, message] of BAD) {
  test(`refused with a fix: ${message.source}`, () => {
    assert.throws(() => loadSettings(env), (error) => {
      assert.ok(error instanceof ConfigError, error);
      assert.match(error.message, message);
      return true;
    });
  });
}

test('the password never appears in the description of the database', () => {
  const settings = loadSettings({ ...DATABASE, DB_PASSWORD: 'hunter2' });

  assert.equal(describeDatabase(settings.database), 'postgresql://notes@db:5432/notes');
  assert.doesNotMatch(JSON.stringify(settings), /hunter2/);
});
