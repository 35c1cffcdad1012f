// What a note is, and the rules the API enforces on its input.

export const MAX_TEXT_LENGTH = 280;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

// The database cannot answer right now: the API says 503 and "retry later".
export class StorageUnavailableError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

// The client sent something the API cannot accept; the message says what.
export class BadRequestError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BadRequestError';
  }
}

export function parseNoteInput(body) {
  let document;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError('body is not valid JSON: send {"text": "..."}');
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new BadRequestError('body must be a JSON object such as {"text": "Buy milk"}');
  }
  const unknown = Object.keys(document).filter((key) => key !== 'text').sort();
  if (unknown.length > 0) {
    throw new BadRequestError(`unknown field(s) ${unknown.join(', ')}: only 'text' is accepted`);
  }
  if (typeof document.text !== 'string') {
    throw new BadRequestError("'text' is required and must be a string");
  }
  const text = document.text.trim();
  if (!text) {
    throw new BadRequestError("'text' must not be blank");
  }
  if ([...text].length > MAX_TEXT_LENGTH) {
    throw new BadRequestError(`'text' is longer than ${MAX_TEXT_LENGTH} characters`);
  }
  // Control characters (newlines and tabs included) are refused: a note is one line.
  if (/\p{Cc}/u.test(text)) {
    throw new BadRequestError("'text' must not contain control characters");
  }
  return { text };
}

export function parseLimit(searchParams) {
  const values = searchParams.getAll('limit');
  if (values.length === 0) {
    return DEFAULT_PAGE_SIZE;
  }
  const raw = values[values.length - 1];
  const limit = Number(raw);
  if (!/^[0-9]+$/.test(raw) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new BadRequestError(`'limit' must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return limit;
}
