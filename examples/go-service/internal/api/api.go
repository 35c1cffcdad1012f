// Package api holds the HTTP routes: JSON in, JSON out, errors that say what to fix.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"example.com/go-service/internal/logjson"
	"example.com/go-service/internal/slug"
)

// MaxBodyBytes is the largest request body read.
const MaxBodyBytes = 8 * 1024

// API serves the routes. The zero value is not usable: call New.
type API struct {
	log      *logjson.Logger
	draining atomic.Bool
	routes   map[string]map[string]http.HandlerFunc
}

// New returns the API, ready to serve.
func New(log *logjson.Logger) *API {
	a := &API{log: log}
	a.routes = map[string]map[string]http.HandlerFunc{
		"/healthz": {http.MethodGet: a.health},
		"/readyz":  {http.MethodGet: a.readiness},
		"/slugs":   {http.MethodPost: a.createSlug},
	}
	return a
}

// StartDraining makes /readyz fail from now on, so load balancers stop sending traffic.
func (a *API) StartDraining() { a.draining.Store(true) }

// Draining says whether StartDraining was called.
func (a *API) Draining() bool { return a.draining.Load() }

// ServeHTTP routes one request, logs it, and turns a panic into a 500.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if recovered := recover(); recovered != nil {
			if recovered == http.ErrAbortHandler { // net/http's own way to abort a response.
				panic(recovered)
			}
			// The request boundary: a bug answers 500 instead of dropping the connection.
			a.log.Error("unhandled error", "method", r.Method, "path", r.URL.Path,
				"error", fmt.Sprint(recovered), "stack", string(debug.Stack()))
			if !recorder.wrote {
				writeError(recorder, http.StatusInternalServerError, "internal error")
			}
		}
		a.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", recorder.status,
			"duration_ms", float64(time.Since(started).Microseconds()/100)/10)
	}()
	methods, found := a.routes[r.URL.Path]
	if !found {
		writeError(recorder, http.StatusNotFound, "no route for "+r.URL.Path)
		return
	}
	handler, allowed := methods[r.Method]
	if !allowed {
		allow := make([]string, 0, len(methods))
		for method := range methods {
			allow = append(allow, method)
		}
		sort.Strings(allow)
		recorder.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(recorder, http.StatusMethodNotAllowed,
			fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	handler(recorder, r)
}

func (a *API) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

func (a *API) readiness(w http.ResponseWriter, _ *http.Request) {
	if a.Draining() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type slugRequest struct {
	Text *string `json:"text"`
}

func (a *API) createSlug(w http.ResponseWriter, r *http.Request) {
	var body slugRequest
	decoder := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&body); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("body is over %d bytes", MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, describeDecodeError(err))
		return
	}
	if decoder.More() || !atEOF(decoder) {
		writeError(w, http.StatusBadRequest, `body must be one JSON object such as {"text": "Hello, World!"}`)
		return
	}
	if body.Text == nil {
		writeError(w, http.StatusBadRequest, "'text' is required and must be a string")
		return
	}
	made, err := slug.Make(*body.Text)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"text": *body.Text, "slug": made})
}

func atEOF(decoder *json.Decoder) bool {
	_, err := decoder.Token()
	return errors.Is(err, io.EOF)
}

func describeDecodeError(err error) string {
	var typeError *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeError) && typeError.Field != "":
		return fmt.Sprintf("'%s' must be a string", typeError.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Sprintf("unknown field %s: only 'text' is accepted", field)
	case errors.Is(err, io.EOF):
		return `body is empty: send {"text": "Hello, World!"}`
	default:
		return `body is not a JSON object such as {"text": "Hello, World!"}`
	}
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	payload, err := json.Marshal(body)
	if err != nil { // Only maps of strings are written: cannot happen.
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(payload) // A client that went away cannot be told.
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status, s.wrote = status, true
	s.ResponseWriter.WriteHeader(status)
}
