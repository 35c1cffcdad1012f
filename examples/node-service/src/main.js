// Entry point: `node src/main.js`. Exit codes: 0 drained, 1 drain deadline passed
// or cannot listen, 2 invalid configuration.

import { ConfigError, describeDatabase, loadSettings } from './config.js';
import { NotesApp } from './app.js';
import { createLogger } from './log.js';
import { NotesServer } from './server.js';
import { PostgresNoteStore } from './store.js';

const POOL_CLOSE_TIMEOUT_MS = 1_000;

async function main() {
  const logger = createLogger({ level: process.env.LOG_LEVEL });
  let settings;
  try {
    settings = loadSettings(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error(`invalid configuration: ${error.message}`);
      return 2;
    }
    throw error;
  }

  const store = PostgresNoteStore.open(settings.database, { logger });
  const server = new NotesServer(new NotesApp({ store, logger }), logger);
  try {
    const address = await server.listen(settings.port, settings.host);
    logger.info('listening', {
      address: `${address.address}:${address.port}`,
      database: describeDatabase(settings.database),
      drain_seconds: settings.drainSeconds,
    });
  } catch (error) {
    logger.error(`cannot listen on ${settings.host}:${settings.port}: ${error.code}`);
    await store.close();
    return 1;
  }

  const signal = await new Promise((resolve) => {
    let received = false;
    const stop = (name) => {
      if (received) {
        logger.info('signal ignored: already draining', { signal: name });
        return;
      }
      received = true;
      resolve(name);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  logger.info('signal received', { signal });
  const code = await server.drain(settings);
  await Promise.race([store.close(), new Promise((r) => setTimeout(r, POOL_CLOSE_TIMEOUT_MS))]);
  return code;
}

process.exitCode = await main();
// Whatever is left (a pool still closing, an abandoned socket) must not hold the exit.
process.exit();
