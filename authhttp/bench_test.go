package authhttp_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve runs one request through h, without a network, so that what a
// benchmark measures is the handler itself.
func serve(h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.1:1234"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// benchLogin registers "bench" and logs it in once.
func benchLogin(b *testing.B, h http.Handler) (access, refresh string) {
	b.Helper()
	if rec := serve(h, "POST", "/auth/register", "", `{"username":"bench","email":"bench@example.com","password":"`+goodPassword+`"}`); rec.Code != 201 {
		b.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	rec := serve(h, "POST", "/auth/login", "", `{"login":"bench","password":"`+goodPassword+`"}`)
	var tok struct{ AccessToken, RefreshToken string }
	if err := json.Unmarshal(rec.Body.Bytes(), &struct {
		A *string `json:"access_token"`
		R *string `json:"refresh_token"`
	}{&tok.AccessToken, &tok.RefreshToken}); err != nil || rec.Code != 200 {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	return tok.AccessToken, tok.RefreshToken
}

// BenchmarkMe is an authenticated GET /me through the whole handler:
// request info, security headers, bearer check against the session
// (cached after the first use), the account read, JSON out. Memory store.
func BenchmarkMe(b *testing.B) {
	h := newHandler(b, memBackend(), nil)
	access, _ := benchLogin(b, h)
	req := httptest.NewRequest("GET", "/me", nil) // a GET without a body is reusable
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Authorization", "Bearer "+access)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkRefresh is POST /auth/refresh: decode, rotate the refresh
// token, sign a new access token, encode. Memory store.
func BenchmarkRefresh(b *testing.B) {
	h := newHandler(b, memBackend(), nil)
	_, refresh := benchLogin(b, h)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := serve(h, "POST", "/auth/refresh", "", `{"refresh_token":"`+refresh+`"}`)
		var tok struct {
			R string `json:"refresh_token"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tok) != nil {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		refresh = tok.R
	}
}
