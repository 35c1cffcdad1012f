// Package logjson writes logs as JSON lines: one object per event, the fields
// next to the message, in the order given.
package logjson

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Logger writes one JSON object per line to its writer; safe for concurrent use.
type Logger struct {
	mu  sync.Mutex
	out io.Writer
	now func() time.Time
}

// New returns a logger that writes to out.
func New(out io.Writer) *Logger {
	return &Logger{out: out, now: time.Now}
}

// Info logs an event; fields are key, value pairs.
func (l *Logger) Info(message string, fields ...any) { l.write("info", message, fields) }

// Warn logs something that went wrong and was handled.
func (l *Logger) Warn(message string, fields ...any) { l.write("warn", message, fields) }

// Error logs a failure.
func (l *Logger) Error(message string, fields ...any) { l.write("error", message, fields) }

func (l *Logger) write(level, message string, fields []any) {
	var line bytes.Buffer
	line.WriteString(`{"time":`)
	appendValue(&line, l.now().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	line.WriteString(`,"level":`)
	appendValue(&line, level)
	line.WriteString(`,"message":`)
	appendValue(&line, message)
	for i := 0; i+1 < len(fields); i += 2 {
		key, ok := fields[i].(string)
		if !ok {
			key = "field"
		}
		line.WriteByte(',')
		appendValue(&line, key)
		line.WriteByte(':')
		value := fields[i+1]
		if err, isError := value.(error); isError {
			value = err.Error()
		}
		appendValue(&line, value)
	}
	line.WriteString("}\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.out.Write(line.Bytes()) // Nowhere to report a failed log write.
}

func appendValue(line *bytes.Buffer, value any) {
	encoded, err := json.Marshal(value)
	if err != nil {
		encoded, _ = json.Marshal(err.Error())
	}
	line.Write(encoded)
}
