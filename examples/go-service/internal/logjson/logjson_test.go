package logjson

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOneJSONObjectPerLineWithFieldsInOrder(t *testing.T) {
	var out bytes.Buffer
	log := New(&out)
	log.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC) }

	log.Info("request", "path", "/healthz", "status", 200)
	log.Error("failed", "error", errors.New(`quote " and newline`+"\n"))

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		`{"time":"2026-01-02T03:04:05.006Z","level":"info","message":"request","path":"/healthz","status":200}`,
		`{"time":"2026-01-02T03:04:05.006Z","level":"error","message":"failed","error":"quote \" and newline\n"}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines: %q", len(lines), out.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %s\n      want %s", i, lines[i], want[i])
		}
	}
}
