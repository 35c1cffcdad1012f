//go:build smoke

// Package smoke asks a running deployment whether it is up and wired: seconds,
// not minutes, right after every deploy. It learns where the service is from
// BASE_URL alone, so it runs against a local process, a Dagger service or a
// cluster alike. Built only with `-tags=smoke`, so `go test ./...` (the unit
// suite) leaves it out.
package smoke

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func baseURL(t *testing.T) string {
	t.Helper()
	url := strings.TrimSpace(os.Getenv("BASE_URL"))
	if url == "" {
		t.Fatal("BASE_URL is not set: point it at the running service, e.g. " +
			"BASE_URL=http://127.0.0.1:8080 go test -tags=smoke ./smoke/")
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		t.Fatalf("BASE_URL=%q must start with http:// or https://", url)
	}
	return strings.TrimRight(url, "/")
}

func request(t *testing.T, method, path, body string) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(method, baseURL(t)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	reply, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer reply.Body.Close()
	raw, err := io.ReadAll(reply.Body)
	if err != nil {
		t.Fatal(err)
	}
	var document map[string]string
	if err := json.Unmarshal(raw, &document); err != nil {
		t.Fatalf("%s %s: HTTP %d, body is not a JSON object: %.200q", method, path, reply.StatusCode, raw)
	}
	return reply.StatusCode, document
}

func TestTheProcessIsAlive(t *testing.T) {
	status, body := request(t, "GET", "/healthz", "")

	if status != 200 || body["status"] != "alive" {
		t.Errorf("/healthz = %d %v", status, body)
	}
}

func TestTheServiceIsReady(t *testing.T) {
	status, body := request(t, "GET", "/readyz", "")

	if status != 200 || body["status"] != "ready" {
		t.Errorf("not ready: %d %v", status, body)
	}
}

func TestTheAPIMakesASlug(t *testing.T) {
	status, body := request(t, "POST", "/slugs", `{"text": "Smoke test, 1 2 3"}`)

	if status != 200 || body["slug"] != "smoke-test-1-2-3" {
		t.Errorf("POST /slugs = %d %v", status, body)
	}
}
