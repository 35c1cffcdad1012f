// A tiny JSON-over-HTTP client on fetch, for the suites that run against a
// deployed service (smoke, integration). They learn where it is from BASE_URL
// alone, so the same tests run against a local process, a compose stack, a
// Dagger service or a cluster.

const REQUEST_TIMEOUT_MS = 10_000;

export function baseUrl(env = process.env) {
  const url = (env.BASE_URL || '').trim();
  if (!url) {
    throw new Error(
      'BASE_URL is not set: point it at the running service, e.g. ' +
        'BASE_URL=http://127.0.0.1:3000 node --test test/smoke/',
    );
  }
  if (!/^https?:\/\//.test(url)) {
    throw new Error(`BASE_URL=${JSON.stringify(url)} must start with http:// or https://`);
  }
  return url.replace(/\/+$/, '');
}

export async function request(method, path, document) {
  const init = {
    method,
    headers: { Accept: 'application/json' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  };
  if (document !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(document);
  }
  const reply = await fetch(baseUrl() + path, init);
  const raw = await reply.text();
  let body;
  try {
    body = raw ? JSON.parse(raw) : null;
  } catch {
    throw new Error(`HTTP ${reply.status}: body is not JSON: ${raw.slice(0, 200)}`);
  }
  return { status: reply.status, headers: reply.headers, body };
}

export const get = (path) => request('GET', path);
export const post = (path, document) => request('POST', path, document);
