// The image's HEALTHCHECK: `node src/healthcheck.js` exits 0 when /healthz answers 200.
// Liveness only, so a database outage never makes the container "unhealthy" and restarted.

const port = process.env.PORT || '3000';

try {
  const reply = await fetch(`http://127.0.0.1:${port}/healthz`, {
    signal: AbortSignal.timeout(2_000),
  });
  process.exitCode = reply.status === 200 ? 0 : 1;
} catch (error) {
  process.stderr.write(`healthcheck: ${error.cause?.code ?? error.name}\n`);
  process.exitCode = 1;
}
