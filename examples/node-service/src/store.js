// The notes on PostgreSQL, through a small pg connection pool.

import pg from 'pg';

import { StorageUnavailableError } from './notes.js';

// Serialises schema creation across replicas that start together: two
// concurrent CREATE TABLE IF NOT EXISTS can otherwise both fail on the catalog.
const SCHEMA_LOCK_KEY = 0x6e6f746573; // "notes"

const SCHEMA = `
CREATE TABLE IF NOT EXISTS notes (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 280),
    created_at timestamptz NOT NULL DEFAULT now()
)`;

const COLUMNS = 'id, text, created_at';

// SQLSTATE classes that mean "the database cannot serve now", not "our query is wrong":
// connection exceptions, invalid authorization, insufficient resources, operator intervention.
const UNAVAILABLE_CLASSES = new Set(['08', '28', '53', '57']);

export function isUnavailable(error) {
  if (error instanceof pg.DatabaseError) {
    return UNAVAILABLE_CLASSES.has(String(error.code).slice(0, 2));
  }
  // Not an answer of the server: the connection itself failed (refused, timed out, reset).
  return true;
}

export class PostgresNoteStore {
  constructor(pool, { logger }) {
    this.pool = pool;
    this.logger = logger;
    this.schemaReady = null;
    // An idle connection that breaks (database restart) must not crash the process.
    pool.on('error', (error) => logger.warn('idle database connection failed', { error }));
  }

  static open(database, { logger }) {
    const pool = new pg.Pool({
      host: database.host,
      port: database.port,
      user: database.user,
      database: database.database,
      password: database.password,
      max: 4,
      // Readiness probes give up after about a second (Kubernetes' default):
      // answer 503 before that rather than time out.
      connectionTimeoutMillis: 800,
      idleTimeoutMillis: 10_000,
      query_timeout: 5_000,
      application_name: 'node-service',
    });
    return new PostgresNoteStore(pool, { logger });
  }

  async close() {
    await this.pool.end();
  }

  async ping() {
    await this.query('SELECT 1');
  }

  async add({ text }) {
    await this.schema();
    const result = await this.query(
      `INSERT INTO notes (text) VALUES ($1) RETURNING ${COLUMNS}`,
      [text],
    );
    return toNote(result.rows[0]);
  }

  async get(id) {
    await this.schema();
    const result = await this.query(`SELECT ${COLUMNS} FROM notes WHERE id = $1`, [id]);
    return result.rows.length ? toNote(result.rows[0]) : null;
  }

  async list(limit) {
    await this.schema();
    const result = await this.query(
      `SELECT ${COLUMNS} FROM notes ORDER BY id DESC LIMIT $1`,
      [limit],
    );
    return result.rows.map(toNote);
  }

  // Created on first use, not at start: the service is alive before its database is.
  schema() {
    this.schemaReady ??= this.createSchema().catch((error) => {
      this.schemaReady = null; // Try again on the next request.
      throw error;
    });
    return this.schemaReady;
  }

  async createSchema() {
    let client;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    let broken;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      await client.query(SCHEMA);
      await client.query('COMMIT');
    } catch (error) {
      if (isUnavailable(error)) {
        broken = error; // Released with the error: the pool discards the connection.
        throw unavailable(error);
      }
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async query(text, values) {
    try {
      return await this.pool.query(text, values);
    } catch (error) {
      throw isUnavailable(error) ? unavailable(error) : error;
    }
  }
}

function unavailable(error) {
  return new StorageUnavailableError(`${error.code ?? 'error'}: ${error.message}`, {
    cause: error,
  });
}

function toNote(row) {
  return { id: row.id, text: row.text, created_at: row.created_at.toISOString() };
}
