// Package server runs the HTTP listener and the graceful SIGTERM drain.
//
// Drain sequence:
//  1. /readyz answers 503 at once and keep-alive ends, so load balancers stop
//     routing new traffic here;
//  2. after the shutdown delay the listener closes: new connections are
//     refused, idle connections are closed;
//  3. requests already accepted run to completion;
//  4. Drain returns 0 once they are done, or 1 when the drain budget ran out
//     first and some were abandoned.
package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"example.com/go-service/internal/api"
	"example.com/go-service/internal/config"
	"example.com/go-service/internal/logjson"
)

// ClientTimeout drops a client that stalls longer than this mid-request, so
// one slow client cannot hold a connection (or the drain) forever.
const ClientTimeout = 15 * time.Second

// Server is the API behind an http.Server that tracks its connections.
type Server struct {
	api      *api.API
	log      *logjson.Logger
	http     *http.Server
	listener net.Listener

	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
}

// New returns a server for the API; Serve starts it.
func New(handler *api.API, log *logjson.Logger) *Server {
	s := &Server{api: handler, log: log, conns: map[net.Conn]http.ConnState{}}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: ClientTimeout,
		ReadTimeout:       ClientTimeout,
		WriteTimeout:      ClientTimeout,
		IdleTimeout:       2 * ClientTimeout,
		ConnState:         s.track,
	}
	return s
}

func (s *Server) track(conn net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, conn)
	default:
		s.conns[conn] = state
	}
}

// InFlight is the number of open connections that are not idle: each holds a
// request, or the start of one.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	busy := 0
	for _, state := range s.conns {
		if state != http.StateIdle {
			busy++
		}
	}
	return busy
}

// Serve accepts connections on listener until Drain closes it.
func (s *Server) Serve(listener net.Listener) error {
	s.mu.Lock()
	s.listener = listener
	s.mu.Unlock()
	err := s.http.Serve(listener)
	if s.api.Draining() {
		return nil // The drain closed the listener.
	}
	return err
}

// Drain stops the server gracefully and returns the process's exit code.
func (s *Server) Drain(settings config.Settings) int {
	deadline := time.Now().Add(settings.Drain)
	s.api.StartDraining()
	s.http.SetKeepAlivesEnabled(false) // Responses from now on say `Connection: close`.
	s.log.Info("draining", "in_flight", s.InFlight())
	time.Sleep(settings.ShutdownDelay)

	s.mu.Lock()
	listener := s.listener
	s.mu.Unlock()
	if listener != nil {
		_ = listener.Close() // Shutdown closes it too: an error here changes nothing.
	}
	s.log.Info("listener closed", "in_flight", s.InFlight())

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		s.log.Info("drained")
		return 0
	}
	s.log.Error("drain deadline passed with requests still running",
		"abandoned", s.InFlight(), "drain_seconds", settings.Drain.Seconds())
	_ = s.http.Close() // Cut what is left; the process is exiting.
	return 1
}
