// The listener and its drain, on a loopback port inside the test process.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { afterEach, test } from 'node:test';

import { NotesApp } from '../../src/app.js';
import { MAX_BODY_BYTES, NotesServer } from '../../src/server.js';
import { MemoryNoteStore, silentLogger } from '../support/memory-store.js';

let running;

async function start() {
  const store = new MemoryNoteStore();
  const logger = silentLogger();
  const server = new NotesServer(new NotesApp({ store, logger }), logger);
  const { port } = await server.listen(0, '127.0.0.1');
  running = server;
  return { server, store, logger, port };
}

afterEach(() => {
  running?.http.closeAllConnections();
  running?.http.close();
  running = undefined;
});

function send(port, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method, path, headers, agent: false },
      (reply) => {
        const chunks = [];
        reply.on('data', (chunk) => chunks.push(chunk));
        reply.on('end', () =>
          resolve({
            status: reply.statusCode,
            headers: reply.headers,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

// Resolves once `condition` holds, checking every 10 ms; fails after a generous deadline.
async function eventually(condition, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

test('answers JSON with the headers of the API', async () => {
  const { port } = await start();

  const reply = await send(port, 'POST', '/notes', JSON.stringify({ text: 'hi' }), {
    'Content-Type': 'application/json',
  });

  assert.equal(reply.status, 201);
  assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(reply.headers['cache-control'], 'no-store');
  assert.equal(reply.headers.location, `/notes/${reply.body.id}`);
});

test('a body over the limit is refused with 413', async () => {
  const { port, store } = await start();

  const reply = await send(port, 'POST', '/notes', 'x'.repeat(MAX_BODY_BYTES + 1));

  assert.equal(reply.status, 413);
  assert.deepEqual(store.notes, []);
});

test('the drain fails readiness, stops accepting and finishes the request in flight', async () => {
  const { server, store, logger, port } = await start();
  const release = store.hold();
  const inFlight = send(port, 'POST', '/notes', JSON.stringify({ text: 'in flight' }));
  await eventually(() => server.inFlight === 1, 'the request is accepted');

  const drained = server.drain({ drainSeconds: 30, shutdownDelaySeconds: 1 });

  assert.equal((await send(port, 'GET', '/readyz')).status, 503);
  await eventually(
    () => send(port, 'GET', '/healthz').then(() => false, (error) => error.code === 'ECONNREFUSED'),
    'the listener refuses new connections',
  );
  release();
  const reply = await inFlight;
  assert.equal(reply.status, 201);
  assert.equal(reply.headers.connection, 'close');
  assert.equal(await drained, 0);
  const messages = logger.lines.map((line) => line.message);
  assert.ok(messages.indexOf('draining') < messages.indexOf('listener closed'));
  assert.equal(messages.at(-1), 'drained');
});

test('an idle keep-alive connection does not hold the drain', async () => {
  const { server, port } = await start();
  const agent = new http.Agent({ keepAlive: true });
  await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz', agent }, (reply) => {
      reply.resume();
      reply.on('end', resolve);
    }).on('error', reject);
  });
  assert.equal(server.inFlight, 1); // The idle socket is still open.

  assert.equal(await server.drain({ drainSeconds: 30, shutdownDelaySeconds: 0 }), 0);
  agent.destroy();
});

test('a stuck request cannot hold the drain past its deadline', async () => {
  const { server, logger, port } = await start();
  const stuck = net.connect(port, '127.0.0.1');
  stuck.on('error', () => {}); // Destroyed by the drain: expected.
  stuck.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // Never finished.
  await eventually(() => server.inFlight === 1, 'the connection is accepted');

  const started = performance.now();
  const code = await server.drain({ drainSeconds: 0.5, shutdownDelaySeconds: 0 });

  assert.equal(code, 1);
  // Not before the deadline: the stuck client was given all of it.
  assert.ok(performance.now() - started >= 450);
  const [abandoned] = logger.lines.filter((line) => line.level === 'error');
  assert.equal(abandoned.abandoned, 1);
  stuck.destroy();
});
