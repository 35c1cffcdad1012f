// Command go-service serves the slug API.
//
//	go-service              serve on HOST:PORT until SIGTERM or SIGINT, then drain
//	go-service healthcheck  exit 0 when the local /healthz answers 200 (the image's HEALTHCHECK)
//
// Exit codes: 0 drained, 1 the drain deadline passed or cannot listen,
// 2 invalid configuration or usage.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"example.com/go-service/internal/api"
	"example.com/go-service/internal/config"
	"example.com/go-service/internal/logjson"
	"example.com/go-service/internal/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stderr))
}

func run(args []string, lookup func(string) (string, bool), stderr io.Writer) int {
	log := logjson.New(stderr)
	switch {
	case len(args) == 1 && args[0] == "healthcheck":
		return healthcheck(lookup, stderr)
	case len(args) > 0:
		fmt.Fprintf(stderr, "usage: go-service [healthcheck] (got %q)\n", args)
		return 2
	}
	settings, err := config.FromEnv(lookup)
	if err != nil {
		log.Error("invalid configuration: " + err.Error())
		return 2
	}
	address := net.JoinHostPort(settings.Host, strconv.Itoa(settings.Port))
	listener, err := net.Listen("tcp", address)
	if err != nil {
		log.Error("cannot listen on "+address, "error", err)
		return 1
	}
	signals := make(chan os.Signal, 1)
	// Still registered during the drain: a second signal cannot kill it halfway.
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	srv := server.New(api.New(log), log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(listener) }()
	log.Info("listening", "address", listener.Addr().String(), "drain_seconds", settings.Drain.Seconds())

	select {
	case received := <-signals:
		log.Info("signal received", "signal", signalName(received))
	case err := <-served:
		log.Error("listener failed", "error", err)
		return 1
	}
	return srv.Drain(settings)
}

func signalName(received os.Signal) string {
	if received == syscall.SIGTERM {
		return "SIGTERM"
	}
	if received == syscall.SIGINT {
		return "SIGINT"
	}
	return received.String()
}

// healthcheck probes the local listener: the distroless image has no curl.
func healthcheck(lookup func(string) (string, bool), stderr io.Writer) int {
	port, ok := lookup("PORT")
	if !ok || port == "" {
		port = strconv.Itoa(config.DefaultPort)
	}
	client := http.Client{Timeout: 2 * time.Second}
	reply, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	defer reply.Body.Close()
	if reply.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: /healthz answered %d\n", reply.StatusCode)
		return 1
	}
	return 0
}
