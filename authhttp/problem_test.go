package authhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

func TestProblemFor(t *testing.T) {
	limitedErr := fmt.Errorf("wrapped: %w", &ratelimit.LimitedError{Policy: ratelimit.PerMinute("login", 30),
		Result: ratelimit.Result{Limit: 30, Reset: 41500 * time.Millisecond, RetryAfter: 41500 * time.Millisecond}})
	cases := []struct {
		err    error
		status int
		typ    string
		field  string
	}{
		{user.ErrInvalidCredentials, 401, authhttp.TypeInvalidCredentials, ""},
		{&user.AuthError{Reason: user.AuthLocked}, 401, authhttp.TypeInvalidCredentials, ""},
		{&user.AuthError{Reason: user.AuthUnreadableHash, UserID: 7, Attempts: 1}, 401, authhttp.TypeInvalidCredentials, ""},
		{session.ErrTokenReuse, 401, authhttp.TypeInvalidToken, ""},
		{fmt.Errorf("%w: not three segments", session.ErrInvalidToken), 401, authhttp.TypeInvalidToken, ""},
		{session.ErrExpired, 401, authhttp.TypeInvalidToken, ""},
		{user.ErrUsernameTaken, 409, authhttp.TypeTaken, "username"},
		{fmt.Errorf("register: %w", user.ErrEmailTaken), 409, authhttp.TypeTaken, "email"},
		{user.ErrStale, 409, authhttp.TypeConflict, ""},
		{fmt.Errorf("%w: too short", user.ErrInvalidUsername), 422, authhttp.TypeInvalidField, "username"},
		{fmt.Errorf("%w: missing @", user.ErrInvalidEmail), 422, authhttp.TypeInvalidField, "email"},
		{&user.PasswordError{Reason: user.ReasonTooShort, Min: 8}, 422, authhttp.TypeInvalidField, "password"},
		{user.ErrNotFound, 404, "about:blank", ""},
		{session.ErrNotFound, 404, "about:blank", ""},
		{store.ErrConflict, 500, "about:blank", ""},
		{store.ErrUnavailable, 503, "about:blank", ""},
		{context.DeadlineExceeded, 503, "about:blank", ""},
		{errors.New("pq: something broke"), 500, "about:blank", ""},
		{nil, 500, "about:blank", ""},
		{&authhttp.Problem{Status: 418, Detail: "teapot"}, 418, "", ""},
		{ratelimit.ErrLimited, 429, authhttp.TypeRateLimited, ""},
		{limitedErr, 429, authhttp.TypeRateLimited, ""},
		{ratelimit.ErrFull, 503, "about:blank", ""},
		{rbac.ErrInvalidRule, 422, authhttp.TypeInvalidRule, ""},
		{fmt.Errorf("%w: v1 contains a control character", rbac.ErrInvalidRule), 422, authhttp.TypeInvalidRule, ""},
		{rbac.ErrNotFound, 404, "about:blank", ""},
		{fmt.Errorf("deactivate: %w", rbac.ErrNotFound), 404, "about:blank", ""},
		{&oauth.CallbackError{Reason: oauth.ReasonLinkRequired, UserID: 7}, 409, authhttp.TypeLinkRequired, ""},
		{fmt.Errorf("complete: %w", &oauth.CallbackError{Reason: oauth.ReasonIdentityTaken, Err: oauth.ErrIdentityTaken}), 409, authhttp.TypeIdentityConflict, ""},
		{&oauth.CallbackError{Reason: oauth.ReasonProviderLinked, Err: oauth.ErrProviderLinked}, 409, authhttp.TypeIdentityConflict, ""},
		{&oauth.CallbackError{Reason: oauth.ReasonAccountInactive}, 401, authhttp.TypeInvalidCredentials, ""},
		{&oauth.CallbackError{Reason: oauth.ReasonAccountChanged, Err: oauth.ErrUserChanged}, 401, authhttp.TypeInvalidCredentials, ""},
		{&oauth.CallbackError{Reason: oauth.ReasonStateReplayed}, 400, authhttp.TypeExternalSignInFailed, ""},
		{&oauth.CallbackError{Reason: oauth.ReasonProviderMismatch, Err: oauth.ErrUnknownProvider}, 400, authhttp.TypeExternalSignInFailed, ""},
		{&oauth.CallbackError{Reason: oauth.ReasonProviderUnavailable, Err: oauth.ErrProviderUnavailable}, 400, authhttp.TypeExternalSignInFailed, ""},
		{&oauth.CallbackError{Reason: oauth.ReasonNonceMismatch, Err: errors.New("the ID token's nonce is not the flow's")}, 400, authhttp.TypeExternalSignInFailed, ""},
		{oauth.ErrReturnToRefused, 400, authhttp.TypeReturnToRefused, "return_to"},
		{oauth.ErrUnknownProvider, 404, "about:blank", ""},
		{oauth.ErrNotFound, 404, "about:blank", ""},
		{oauth.ErrLastSignInMethod, 409, authhttp.TypeLastSignInMethod, ""},
		{fmt.Errorf("%w: acme discovery: request failed", oauth.ErrProviderUnavailable), 503, "about:blank", ""},
	}
	for _, c := range cases {
		p := authhttp.ProblemFor(c.err)
		rec := httptest.NewRecorder()
		authhttp.WriteProblem(rec, p)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: %v", c.err, err)
		}
		if rec.Code != c.status || authhttp.StatusFor(c.err) != c.status {
			t.Errorf("%v: status %d, want %d", c.err, rec.Code, c.status)
		}
		if c.typ != "" && body["type"] != c.typ {
			t.Errorf("%v: type %v, want %s", c.err, body["type"], c.typ)
		}
		if f, _ := body["field"].(string); f != c.field {
			t.Errorf("%v: field %q, want %q", c.err, f, c.field)
		}
		if rec.Header().Get("Content-Type") != "application/problem+json" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%v: headers %v", c.err, rec.Header())
		}
		if c.status == 503 && c.err == store.ErrUnavailable && rec.Header().Get("Retry-After") != "1" {
			t.Errorf("%v: Retry-After %q", c.err, rec.Header().Get("Retry-After"))
		}
		retry := map[error]string{store.ErrUnavailable: "1", ratelimit.ErrFull: "1", ratelimit.ErrLimited: "1", limitedErr: "42"}
		if errors.Is(c.err, oauth.ErrProviderUnavailable) && c.status == 503 && rec.Header().Get("Retry-After") != "5" {
			t.Errorf("%v: Retry-After %q, want 5", c.err, rec.Header().Get("Retry-After"))
		}
		if errors.Is(c.err, oauth.ErrCallbackRefused) && c.status == 400 && body["detail"] != "sign-in with the provider failed; start again" {
			t.Errorf("%v: detail %v, want the one generic detail", c.err, body["detail"])
		}
		if errors.Is(c.err, oauth.ErrNotFound) && body["detail"] != "no such identity" ||
			errors.Is(c.err, oauth.ErrUnknownProvider) && c.status == 404 && body["detail"] != "no such provider" {
			t.Errorf("%v: detail %v", c.err, body["detail"])
		}
		if want, ok := retry[c.err]; ok && rec.Header().Get("Retry-After") != want {
			t.Errorf("%v: Retry-After %q, want %s", c.err, rec.Header().Get("Retry-After"), want)
		}
		if errors.Is(c.err, rbac.ErrInvalidRule) && strings.Contains(body["detail"].(string), "character") {
			t.Errorf("%v: the detail quotes the error: %v", c.err, body["detail"])
		}
		if errors.Is(c.err, rbac.ErrNotFound) && body["detail"] != "no such rule" {
			t.Errorf("%v: detail %v", c.err, body["detail"])
		}
		if c.status >= 500 && body["detail"] == "pq: something broke" {
			t.Errorf("%v: server error leaked to the client", c.err)
		}
	}
}

func TestWriteProblemDefaults(t *testing.T) {
	rec := httptest.NewRecorder()
	authhttp.WriteProblem(rec, authhttp.Problem{Status: 200, RetryAfter: 1500 * time.Millisecond})
	if rec.Code != 500 || rec.Header().Get("Retry-After") != "2" {
		t.Errorf("%d %v", rec.Code, rec.Header())
	}
	var p authhttp.Problem
	json.Unmarshal(rec.Body.Bytes(), &p)
	if p.Type != "about:blank" || p.Title != "Internal Server Error" {
		t.Errorf("%+v", p)
	}
}

// FuzzDecodeJSON: any body either decodes into the request type or is
// refused with a 400, 413 or 415 problem whose detail is valid UTF-8 and
// does not echo the body's values.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"login":"alice","password":"x"}`, `{}`, ``, `[]`, `null`, `{"login":1}`, `{"login":"a"}{"login":"b"}`,
		`{"login":"a","extra":"secret-value"}`, "{\"login\":\"\x00\"}", "{\"login\":\"\xff\"}", `{"login":"a"} x`,
		`{"password":` + strings.Repeat(`"a"`, 10),
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Add(`{}`, "application/json; charset=latin1")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		var dst authhttp.LoginRequest
		err := authhttp.DecodeJSON(rec, req, &dst, 1024)
		if err == nil {
			return
		}
		var p *authhttp.Problem
		if !errors.As(err, &p) {
			t.Fatalf("error %v is not a *Problem", err)
		}
		switch p.Status {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("status %d", p.Status)
		}
		if !utf8.ValidString(p.Detail) {
			t.Fatalf("detail %q is not UTF-8", p.Detail)
		}
		if strings.Contains(p.Detail, "secret-value") {
			t.Fatalf("detail %q echoes a value", p.Detail)
		}
	})
}
