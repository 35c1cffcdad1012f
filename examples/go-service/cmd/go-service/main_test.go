package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func env(values map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		value, ok := values[name]
		return value, ok
	}
}

func TestABadSettingExits2WithOneJSONLineAndNoStack(t *testing.T) {
	var stderr bytes.Buffer

	code := run(nil, env(map[string]string{"PORT": "eighty"}), &stderr)

	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	var entry map[string]string
	if err := json.Unmarshal(stderr.Bytes(), &entry); err != nil {
		t.Fatalf("not one JSON line: %q", stderr.String())
	}
	if !strings.HasPrefix(entry["message"], `invalid configuration: PORT="eighty" is not a TCP port`) {
		t.Errorf("message = %q", entry["message"])
	}
}

func TestAnUnknownArgumentIsAUsageError(t *testing.T) {
	var stderr bytes.Buffer

	if code := run([]string{"serve"}, env(nil), &stderr); code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "usage: go-service [healthcheck]") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestAPortInUseExits1(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	var stderr bytes.Buffer

	code := run(nil, env(map[string]string{"HOST": "127.0.0.1", "PORT": port}), &stderr)

	if code != 1 || !strings.Contains(stderr.String(), "cannot listen on 127.0.0.1:"+port) {
		t.Errorf("exit code = %d, stderr = %q", code, stderr.String())
	}
}

func TestHealthcheckProbesTheLocalHealthz(t *testing.T) {
	var paths []string
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
	}))
	defer live.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(live.URL, "http://"))

	if code := run([]string{"healthcheck"}, env(map[string]string{"PORT": port}), &bytes.Buffer{}); code != 0 {
		t.Errorf("healthcheck against a live server = %d, want 0", code)
	}
	if len(paths) != 1 || paths[0] != "/healthz" {
		t.Errorf("probed %v, want [/healthz]", paths)
	}
}

func TestHealthcheckFailsWhenNothingAnswersOrTheAnswerIsNot200(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	_, unhealthyPort, _ := net.SplitHostPort(strings.TrimPrefix(unhealthy.URL, "http://"))

	for name, probed := range map[string]string{"nothing listening": port, "503": unhealthyPort} {
		var stderr bytes.Buffer
		if code := run([]string{"healthcheck"}, env(map[string]string{"PORT": probed}), &stderr); code != 1 {
			t.Errorf("%s: healthcheck = %d, want 1", name, code)
		}
		if !strings.HasPrefix(stderr.String(), "healthcheck: ") {
			t.Errorf("%s: stderr = %q", name, stderr.String())
		}
	}
}
