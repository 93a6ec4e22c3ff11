package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
)

// newLogger returns the program's logger: JSON lines on w. A line logged
// with a request's context (the request line, the API's refusals, the
// services' messages) carries the request's correlation_id and client_ip,
// as its audit events do.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(requestInfoHandler{slog.NewJSONHandler(w, nil)})
}

// requestInfoHandler adds the audit.RequestInfo of the context, if any,
// to each record.
type requestInfoHandler struct{ slog.Handler }

func (h requestInfoHandler) Handle(ctx context.Context, r slog.Record) error {
	if ri, ok := audit.RequestInfoFromContext(ctx); ok {
		r = r.Clone()
		r.AddAttrs(slog.String("correlation_id", ri.CorrelationID))
		if ri.ClientIP.IsValid() {
			r.AddAttrs(slog.String("client_ip", ri.ClientIP.String()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestInfoHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestInfoHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestInfoHandler) WithGroup(name string) slog.Handler {
	return requestInfoHandler{h.Handler.WithGroup(name)}
}

// methodNotAllowed answers 405 with the Allow header.
func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		authhttp.WriteProblem(w, authhttp.Problem{Status: http.StatusMethodNotAllowed,
			Detail: fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, allow)})
	})
}

// withTimeout gives each request's context a deadline of d, so that a
// request queued behind a flood of logins (waiting for a hashing slot)
// gives up: the API answers context.DeadlineExceeded with 503.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverPanics turns a handler's panic into a logged 500 problem instead
// of a dropped connection.
func (a *app) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response silently
			}
			a.log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			authhttp.WriteProblem(w, authhttp.Problem{Status: http.StatusInternalServerError,
				Detail: "internal server error"})
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests logs one line per request: method, path (never the query,
// which may carry tokens), status, duration and the peer's address; the
// logger adds the correlation id and client IP.
func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote_addr", r.RemoteAddr))
	})
}

// statusWriter records the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
