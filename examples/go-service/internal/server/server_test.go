package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.com/go-service/internal/api"
	"example.com/go-service/internal/config"
	"example.com/go-service/internal/logjson"
)

// safeBuffer is a log destination the server's goroutines and the test share.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func start(t *testing.T) (*Server, string, *safeBuffer) {
	t.Helper()
	logs := &safeBuffer{}
	log := logjson.New(logs)
	srv := New(api.New(log), log)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(listener) }()
	t.Cleanup(func() { _ = srv.http.Close() })
	return srv, listener.Addr().String(), logs
}

// eventually waits until condition holds, checking every 10 ms, for a generous while.
func eventually(t *testing.T, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if condition() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
}

func status(address, path string) (int, error) {
	client := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	reply, err := client.Get("http://" + address + path)
	if err != nil {
		return 0, err
	}
	defer reply.Body.Close()
	_, _ = io.Copy(io.Discard, reply.Body)
	return reply.StatusCode, nil
}

func refused(address string) bool {
	conn, err := net.Dial("tcp", address)
	if err == nil {
		conn.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func TestTheDrainFailsReadinessStopsAcceptingAndFinishesTheRequestInFlight(t *testing.T) {
	srv, address, logs := start(t)
	body := `{"text": "In flight"}`
	slow, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// A slow client: the request is accepted, its body only half sent.
	fmt.Fprintf(slow, "POST /slugs HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:5])
	eventually(t, "the request is accepted", func() bool { return srv.InFlight() == 1 })

	drained := make(chan int, 1)
	go func() { drained <- srv.Drain(config.Settings{Drain: 30 * time.Second, ShutdownDelay: time.Second}) }()

	// A 503 over a new connection: readiness failed while the listener still accepted.
	eventually(t, "readiness turns 503", func() bool {
		code, err := status(address, "/readyz")
		if err != nil {
			t.Fatalf("the listener closed before readiness failed: %v", err)
		}
		return code == 503
	})
	eventually(t, "the listener refuses connections", func() bool { return refused(address) })
	fmt.Fprint(slow, body[5:])
	reply, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reply.Body.Close()
	answer, _ := io.ReadAll(reply.Body)

	if reply.StatusCode != 200 || !strings.Contains(string(answer), `"slug":"in-flight"`) {
		t.Errorf("the request in flight got %d %s", reply.StatusCode, answer)
	}
	if !reply.Close {
		t.Error("the response during the drain does not say Connection: close")
	}
	if code := <-drained; code != 0 {
		t.Errorf("Drain = %d, want 0\n%s", code, logs)
	}
	log := logs.String()
	if !(strings.Index(log, `"draining"`) < strings.Index(log, `"listener closed"`) &&
		strings.Index(log, `"listener closed"`) < strings.Index(log, `"drained"`)) {
		t.Errorf("drain steps out of order:\n%s", log)
	}
}

func TestAnIdleKeepAliveConnectionDoesNotHoldTheDrain(t *testing.T) {
	srv, address, _ := start(t)
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	reply, err := (&http.Client{Transport: transport}).Get("http://" + address + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, reply.Body)
	reply.Body.Close()
	eventually(t, "the connection is idle", func() bool { return srv.InFlight() == 0 })

	if code := srv.Drain(config.Settings{Drain: 30 * time.Second}); code != 0 {
		t.Errorf("Drain = %d, want 0", code)
	}
}

func TestAStuckRequestCannotHoldTheDrainPastItsDeadline(t *testing.T) {
	srv, address, logs := start(t)
	stuck, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	fmt.Fprint(stuck, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // Never finished.
	eventually(t, "the request is accepted", func() bool { return srv.InFlight() == 1 })

	started := time.Now()
	code := srv.Drain(config.Settings{Drain: 500 * time.Millisecond})

	if code != 1 {
		t.Errorf("Drain = %d, want 1", code)
	}
	// Not before the deadline: the stuck client was given all of it.
	if elapsed := time.Since(started); elapsed < 450*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline", elapsed)
	}
	if !strings.Contains(logs.String(), `"abandoned":1`) {
		t.Errorf("the abandoned request is not logged:\n%s", logs)
	}
}
