// Settings read once from the environment, with errors that say how to fix them.
//
// The database is described the way Portable Pipelines hands a dependency to
// the app: DB_HOST and DB_PORT (set by the pipeline for the `db` dependency),
// DB_USER and DB_NAME (the service's own settings) and the password from
// DB_PASSWORD (a secret) or DB_PASSWORD_FILE (a mounted secret file).

import { readFileSync } from 'node:fs';

export const DEFAULT_PORT = 3000;
export const DEFAULT_DRAIN_SECONDS = 10;

export class ConfigError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

export function loadSettings(env) {
  const drainSeconds = seconds(env, 'DRAIN_SECONDS', DEFAULT_DRAIN_SECONDS);
  const shutdownDelaySeconds = seconds(env, 'SHUTDOWN_DELAY_SECONDS', 0);
  if (shutdownDelaySeconds >= drainSeconds) {
    throw new ConfigError(
      `SHUTDOWN_DELAY_SECONDS=${shutdownDelaySeconds} must be shorter than ` +
        `DRAIN_SECONDS=${drainSeconds}: the delay is spent inside the drain budget, so ` +
        'requests in flight would get no time to finish; lower the delay',
    );
  }
  return Object.freeze({
    host: env.HOST || '0.0.0.0',
    port: port(env, 'PORT', DEFAULT_PORT),
    drainSeconds,
    shutdownDelaySeconds,
    database: databaseSettings(env),
  });
}

function databaseSettings(env) {
  const database = {
    host: required(env, 'DB_HOST', 'the database host, e.g. DB_HOST=db'),
    port: port(env, 'DB_PORT', 5432),
    user: required(env, 'DB_USER', 'the database user, e.g. DB_USER=notes'),
    database: required(env, 'DB_NAME', 'the database name, e.g. DB_NAME=notes'),
  };
  // Not enumerable: logging or serialising the settings can never print it.
  Object.defineProperty(database, 'password', { value: password(env), enumerable: false });
  return Object.freeze(database);
}

// Where the database is, for logs: never the password.
export function describeDatabase(database) {
  return `postgresql://${database.user}@${database.host}:${database.port}/${database.database}`;
}

function required(env, name, what) {
  const value = (env[name] || '').trim();
  if (!value) {
    throw new ConfigError(`${name} is not set: expected ${what}`);
  }
  return value;
}

function port(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!/^[0-9]+$/.test(raw) || value < 1 || value > 65535) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} is not a TCP port: expected an integer from 1 to 65535`,
    );
  }
  return value;
}

function seconds(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || raw.trim() !== raw) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} is not a duration: expected seconds, such as 10 or 2.5`,
    );
  }
  return value;
}

function password(env) {
  const file = env.DB_PASSWORD_FILE;
  const value = env.DB_PASSWORD;
  if (file && value) {
    throw new ConfigError(
      'DB_PASSWORD_FILE and DB_PASSWORD are both set: keep one (the file, mounted from ' +
        'a secret, is preferred)',
    );
  }
  if (file) {
    try {
      // Secret files usually end with a newline that is not part of the password.
      return readFileSync(file, 'utf8').replace(/[\r\n]+$/, '');
    } catch (error) {
      throw new ConfigError(
        `DB_PASSWORD_FILE=${JSON.stringify(file)} cannot be read (${error.code}): mount the ` +
          'secret there or unset the variable',
        { cause: error },
      );
    }
  }
  return value || undefined;
}
