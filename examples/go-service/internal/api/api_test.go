package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"example.com/go-service/internal/logjson"
)

func serve(t *testing.T, a *API, method, path, body string) (*httptest.ResponseRecorder, map[string]string) {
	t.Helper()
	recorder := httptest.NewRecorder()
	a.ServeHTTP(recorder, httptest.NewRequest(method, path, strings.NewReader(body)))
	var document map[string]string
	if err := json.Unmarshal(recorder.Body.Bytes(), &document); err != nil {
		t.Fatalf("%s %s: body is not a JSON object of strings: %q", method, path, recorder.Body)
	}
	if got := recorder.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	return recorder, document
}

func TestHealthAndReadiness(t *testing.T) {
	a := New(logjson.New(&bytes.Buffer{}))

	if reply, body := serve(t, a, "GET", "/healthz", ""); reply.Code != 200 || body["status"] != "alive" {
		t.Errorf("/healthz = %d %v", reply.Code, body)
	}
	if reply, body := serve(t, a, "GET", "/readyz", ""); reply.Code != 200 || body["status"] != "ready" {
		t.Errorf("/readyz = %d %v", reply.Code, body)
	}
}

func TestDrainingFailsReadinessOnly(t *testing.T) {
	a := New(logjson.New(&bytes.Buffer{}))

	a.StartDraining()

	if reply, body := serve(t, a, "GET", "/readyz", ""); reply.Code != 503 || body["status"] != "draining" {
		t.Errorf("/readyz while draining = %d %v", reply.Code, body)
	}
	if reply, _ := serve(t, a, "GET", "/healthz", ""); reply.Code != 200 {
		t.Errorf("/healthz while draining = %d", reply.Code)
	}
}

func TestCreateSlug(t *testing.T) {
	a := New(logjson.New(&bytes.Buffer{}))

	reply, body := serve(t, a, "POST", "/slugs", `{"text": "Hello, World!"}`)

	if reply.Code != 200 {
		t.Fatalf("POST /slugs = %d %v", reply.Code, body)
	}
	if body["slug"] != "hello-world" || body["text"] != "Hello, World!" {
		t.Errorf("body = %v", body)
	}
	if got := reply.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
}

func TestRefusedBodies(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"empty", "", "body is empty"},
		{"not JSON", `{"text": `, "not a JSON object"},
		{"an array", `["x"]`, "not a JSON object"},
		{"no text", `{}`, "'text' is required"},
		{"a number", `{"text": 7}`, "'text' must be a string"},
		{"an unknown field", `{"text": "x", "lang": "en"}`, `unknown field "lang"`},
		{"two objects", `{"text": "a"} {"text": "b"}`, "one JSON object"},
		{"no words", `{"text": "!!!"}`, "no letters or digits"},
		{"too long", `{"text": "` + strings.Repeat("a", 201) + `"}`, "longer than 200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := New(logjson.New(&bytes.Buffer{}))

			reply, body := serve(t, a, "POST", "/slugs", c.body)

			if reply.Code != 400 || !strings.Contains(body["error"], c.want) {
				t.Errorf("= %d %q, want 400 with %q", reply.Code, body["error"], c.want)
			}
		})
	}
}

func TestABodyOverTheLimitIs413(t *testing.T) {
	a := New(logjson.New(&bytes.Buffer{}))
	big := `{"text": "` + strings.Repeat("a", MaxBodyBytes) + `"}`

	if reply, body := serve(t, a, "POST", "/slugs", big); reply.Code != 413 {
		t.Errorf("= %d %v, want 413", reply.Code, body)
	}
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	a := New(logjson.New(&bytes.Buffer{}))

	if reply, _ := serve(t, a, "GET", "/nope", ""); reply.Code != 404 {
		t.Errorf("GET /nope = %d", reply.Code)
	}
	reply, body := serve(t, a, "GET", "/slugs", "")
	if reply.Code != 405 || reply.Header().Get("Allow") != "POST" {
		t.Errorf("GET /slugs = %d Allow=%q %v", reply.Code, reply.Header().Get("Allow"), body)
	}
}

func TestAPanicAnswers500AndIsLoggedWithItsStack(t *testing.T) {
	var logs bytes.Buffer
	a := New(logjson.New(&logs))
	a.routes["/boom"] = map[string]http.HandlerFunc{"GET": func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}}

	reply, body := serve(t, a, "GET", "/boom", "")

	if reply.Code != 500 || body["error"] != "internal error" {
		t.Errorf("= %d %v", reply.Code, body)
	}
	if !strings.Contains(logs.String(), `"message":"unhandled error"`) || !strings.Contains(logs.String(), "api_test.go") {
		t.Errorf("the panic was not logged with its stack:\n%s", logs.String())
	}
}

func TestEveryRequestIsLoggedAsJSON(t *testing.T) {
	var logs bytes.Buffer
	a := New(logjson.New(&logs))

	serve(t, a, "GET", "/healthz", "")

	var entry map[string]any
	if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
		t.Fatalf("not one JSON line: %q", logs.String())
	}
	if entry["message"] != "request" || entry["path"] != "/healthz" || entry["status"] != float64(200) {
		t.Errorf("log entry = %v", entry)
	}
}
