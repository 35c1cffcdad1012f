// The HTTP listener and the graceful SIGTERM drain.
//
// Drain sequence on SIGTERM (or SIGINT):
// 1. /readyz answers 503 at once, so load balancers stop routing new traffic here;
// 2. after SHUTDOWN_DELAY_SECONDS (default 0) the listener closes: new connections
//    are refused, idle keep-alive connections are closed;
// 3. requests already accepted run to completion (their responses say
//    `Connection: close`);
// 4. the process exits 0 once they are done, or 1 when DRAIN_SECONDS ran out first
//    and some were abandoned.

import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export const MAX_BODY_BYTES = 8 * 1024;
// A client that stalls longer than this mid-request is dropped, so one slow
// client cannot hold a connection (or the drain) forever.
export const CLIENT_TIMEOUT_MS = 15_000;

export class NotesServer {
  constructor(app, logger) {
    this.app = app;
    this.logger = logger;
    this.sockets = new Set();
    this.idle = [];
    this.http = http.createServer(
      { requestTimeout: CLIENT_TIMEOUT_MS, headersTimeout: CLIENT_TIMEOUT_MS },
      (request, reply) => {
        this.serve(request, reply).catch((error) => {
          logger.error('cannot answer', { error, stack: error.stack });
          reply.destroy();
        });
      },
    );
    this.http.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        if (this.sockets.size === 0) {
          this.idle.splice(0).forEach((resolve) => resolve());
        }
      });
    });
  }

  // Connections still open: after the listener closed, each one holds a request.
  get inFlight() {
    return this.sockets.size;
  }

  listen(port, host) {
    return new Promise((resolve, reject) => {
      const failed = (error) => reject(error);
      this.http.once('error', failed);
      this.http.listen(port, host, () => {
        this.http.off('error', failed);
        resolve(this.http.address());
      });
    });
  }

  async serve(request, reply) {
    const started = performance.now();
    const body = await readBody(request);
    const answer = body.error ?? (await this.app.handle(request.method, request.url, body.data));
    const payload = Buffer.from(JSON.stringify(answer.body), 'utf8');
    const headers = {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': payload.length,
      'Cache-Control': 'no-store',
      ...answer.headers,
    };
    if (this.app.draining || body.error) {
      headers.Connection = 'close';
    }
    reply.writeHead(answer.status, headers);
    reply.end(payload);
    this.logger.info('request', {
      method: request.method,
      path: request.url.split('?', 1)[0],
      status: answer.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
    });
  }

  // Returns the exit code: 0 drained, 1 the deadline passed with requests running.
  async drain({ drainSeconds, shutdownDelaySeconds }) {
    const deadline = performance.now() + drainSeconds * 1000;
    this.app.startDraining();
    this.logger.info('draining', { in_flight: this.inFlight });
    if (shutdownDelaySeconds > 0) {
      await sleep(shutdownDelaySeconds * 1000);
    }
    const closed = new Promise((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    this.logger.info('listener closed', { in_flight: this.inFlight });
    const remaining = Math.max(deadline - performance.now(), 0);
    if (await this.untilIdle(remaining)) {
      await closed;
      this.logger.info('drained');
      return 0;
    }
    this.logger.error('drain deadline passed with requests still running', {
      abandoned: this.inFlight,
      drain_seconds: drainSeconds,
    });
    this.http.closeAllConnections();
    for (const socket of this.sockets) {
      socket.destroy();
    }
    return 1;
  }

  untilIdle(timeoutMs) {
    if (this.sockets.size === 0) {
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

async function readBody(request) {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
    return { error: tooLarge() };
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      return { error: tooLarge() };
    }
    chunks.push(chunk);
  }
  return { data: Buffer.concat(chunks) };
}

function tooLarge() {
  return { status: 413, body: { error: `body is over ${MAX_BODY_BYTES} bytes` }, headers: {} };
}
