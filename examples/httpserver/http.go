package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// maxBodyBytes bounds request bodies; larger ones get 413.
const maxBodyBytes = 64 << 10

// Problem types of this API (RFC 9457). Problems with no more meaning than
// their status code use "about:blank". The URIs point at this program's
// documentation; a host defines its own.
const (
	problemTypeBase        = "https://pkg.go.dev/github.com/cedrina/cedrina/examples/httpserver#"
	typeInvalidField       = problemTypeBase + "invalid-field"
	typeTaken              = problemTypeBase + "taken"
	typeInvalidCredentials = problemTypeBase + "invalid-credentials"
)

// problem is an RFC 9457 problem details object, with one extension
// member: field, the request field a 400 or 409 is about.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"`
}

// writeProblem sends p as application/problem+json. A zero Type becomes
// "about:blank" with the status text as title.
func writeProblem(w http.ResponseWriter, p problem) {
	if p.Type == "" {
		p.Type = "about:blank"
		p.Title = http.StatusText(p.Status)
	}
	body, _ := json.Marshal(p) // strings and an int: cannot fail
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	w.Write(append(body, '\n'))
}

// writeJSON sends v as application/json with the status code.
func (a *app) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.serverError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// invalidField is the 400 problem for a field the user package refused.
// Its messages name the reason without quoting the input, as in
// "user: invalid email: missing @"; the detail drops the "user: ".
func invalidField(field string, err error) problem {
	return problem{Type: typeInvalidField, Title: "Invalid field", Status: http.StatusBadRequest,
		Field: field, Detail: strings.TrimPrefix(err.Error(), "user: ")}
}

// serverError answers a failure the client cannot fix. The error is
// logged; the response says nothing about it. A request whose context
// ran out (handlerTimeout, typically waiting for a hashing slot under
// load) gets 503.
func (a *app) serverError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		a.log.InfoContext(ctx, "request cancelled by the client", "method", r.Method, "path", r.URL.Path)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Detail: "the request was cancelled"})
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		a.log.WarnContext(ctx, "request timed out", "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "1")
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Detail: "the server is busy; try again later"})
	default:
		a.log.ErrorContext(ctx, "internal error", "method", r.Method, "path", r.URL.Path, "error", err)
		writeProblem(w, problem{Status: http.StatusInternalServerError, Detail: "internal server error"})
	}
}

// decodeJSON decodes the request body, a single JSON object, into dst. It
// returns the problem to answer with when the body is not JSON (415), too
// large (413), malformed, not one object, or has fields dst does not
// declare (400). Error details never quote the body's values.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) *problem {
	if p := checkContentType(r); p != nil {
		return p
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyProblem(err)
	}
	// Exactly one value: anything after it but white space is refused.
	_, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return bodyProblem(err)
	}
	return &problem{Status: http.StatusBadRequest, Detail: "the body must hold a single JSON object"}
}

// checkContentType accepts application/json in UTF-8 (the only encoding
// RFC 8259 allows), without a content coding.
func checkContentType(r *http.Request) *problem {
	unsupported := &problem{Status: http.StatusUnsupportedMediaType,
		Detail: "the body must be application/json"}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupported
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return &problem{Status: http.StatusUnsupportedMediaType, Detail: "content codings are not supported"}
	}
	return nil
}

// bodyProblem maps a decoding error to its problem.
func bodyProblem(err error) *problem {
	bad := func(detail string) *problem {
		return &problem{Status: http.StatusBadRequest, Detail: detail}
	}
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return &problem{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the body is larger than %d bytes", tooLarge.Limit)}
	case errors.As(err, &syntax):
		return bad(fmt.Sprintf("malformed JSON at byte %d", syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("malformed JSON: unexpected end of the body")
	case errors.Is(err, io.EOF):
		return bad("the body is empty")
	case errors.As(err, &typ) && typ.Field != "":
		return bad(fmt.Sprintf("field %q must be a JSON %s", typ.Field, typ.Type))
	case errors.As(err, &typ):
		return bad("the body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields.
		return bad(strings.TrimPrefix(err.Error(), "json: "))
	}
	return bad("the body cannot be read")
}

// methodNotAllowed answers 405 with the Allow header.
func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeProblem(w, problem{Status: http.StatusMethodNotAllowed,
			Detail: fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, allow)})
	})
}

// securityHeaders sets, on every response: no caching (these are
// authentication responses, and even /healthz must be fresh), no MIME
// sniffing, no framing and no content loading (this is an API, never a
// page), no referrer. Strict-Transport-Security belongs to whatever
// terminates TLS in front of this server.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// withTimeout gives each request's context a deadline of d.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverPanics turns a handler's panic into a logged 500 instead of a
// dropped connection.
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
			writeProblem(w, problem{Status: http.StatusInternalServerError, Detail: "internal server error"})
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests logs one line per request: method, path (never the query,
// which may carry tokens), status and duration.
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
