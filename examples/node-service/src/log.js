// Logs are JSON lines on stderr: one object per event, fields next to the message.

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger({ level = 'info', write = (line) => process.stderr.write(line) } = {}) {
  const threshold = LEVELS[String(level).toLowerCase()] ?? LEVELS.info;
  const log = (name, message, fields = {}) => {
    if (LEVELS[name] < threshold) {
      return;
    }
    const entry = { time: new Date().toISOString(), level: name, message, ...fields };
    write(`${JSON.stringify(entry, errorsAsText)}\n`);
  };
  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
  };
}

function errorsAsText(_key, value) {
  return value instanceof Error ? `${value.name}: ${value.message}` : value;
}
