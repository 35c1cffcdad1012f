// The integration suite checks what the API stored, straight in PostgreSQL.
//
// It reaches the database the way the pipeline describes a dependency to a
// suite: DB_HOST, DB_PORT and the generated DB_POSTGRES_PASSWORD, with the
// service's own DB_USER and DB_NAME (its [service] env, which a suite that
// never runs against a deployment gets too: docs/configuration.md).

import pg from 'pg';

export async function connect(env = process.env) {
  const missing = ['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_NAME'].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(', ')} not set: the integration suite checks rows in the service's ` +
        "database; give it the service's DB_* variables and DB_POSTGRES_PASSWORD",
    );
  }
  const client = new pg.Client({
    host: env.DB_HOST,
    port: Number(env.DB_PORT),
    user: env.DB_USER,
    database: env.DB_NAME,
    password: env.DB_POSTGRES_PASSWORD,
    connectionTimeoutMillis: 5_000,
  });
  await client.connect();
  return client;
}
