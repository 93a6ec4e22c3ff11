package user_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cedrina/cedrina/user"
)

func TestPasswordPolicyValidate(t *testing.T) {
	tests := []struct {
		name  string
		p     user.PasswordPolicy
		field string // "" when valid
	}{
		{"zero value", user.PasswordPolicy{}, ""},
		{"NIST single factor", user.PasswordPolicy{MinLength: 15}, ""},
		{"max 64", user.PasswordPolicy{MaxLength: 64}, ""},
		{"max 4096", user.PasswordPolicy{MaxLength: 4096}, ""},
		{"min equals max", user.PasswordPolicy{MinLength: 64, MaxLength: 64}, ""},
		{"negative min", user.PasswordPolicy{MinLength: -1}, "MinLength"},
		{"min below 8", user.PasswordPolicy{MinLength: 6}, "MinLength"},
		{"max below 64", user.PasswordPolicy{MaxLength: 63}, "MaxLength"},
		{"negative max", user.PasswordPolicy{MaxLength: -5}, "MaxLength"},
		{"max above 4096", user.PasswordPolicy{MaxLength: 4097}, "MaxLength"},
		{"min above default max", user.PasswordPolicy{MinLength: 129}, "MinLength"},
		{"nil checker", user.PasswordPolicy{Checkers: []user.PasswordChecker{nil}}, "Checkers[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestNormalizePassword(t *testing.T) {
	tests := []struct {
		name, in, want string
		invalid        bool
	}{
		{"ascii kept", "Correct Horse 1!", "Correct Horse 1!", false},
		{"full width folded (NFKC)", "ｐａｓｓ", "pass", false},
		{"decomposed composed", "jose\u0301", "josé", false},
		{"ligature expanded", "ﬁne", "fine", false},
		{"no-break space becomes space", "a\u00a0b", "a b", false},
		{"emoji kept", "🔑🔑🔑", "🔑🔑🔑", false},
		{"zero-width kept (not Cc)", "a\u200bb", "a\u200bb", false},
		{"empty", "", "", false},
		{"NUL", "pass\x00word", "", true},
		{"tab", "pass\tword", "", true},
		{"newline", "password\n", "", true},
		{"DEL", "pass\x7fword", "", true},
		{"C1 control", "pass\u0085word", "", true},
		{"invalid UTF-8", "pass\xffword", "", true},
		{"lone surrogate encoding", "pass\xed\xa0\x80word", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := user.NormalizePassword(tt.in)
			if tt.invalid {
				var pe *user.PasswordError
				if !errors.As(err, &pe) || pe.Reason != user.ReasonInvalid || !errors.Is(err, user.ErrWeakPassword) {
					t.Fatalf("NormalizePassword(%q) = %q, %v; want ReasonInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePassword(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// checkerFunc adapts a function to PasswordChecker.
type checkerFunc func(ctx context.Context, password string, pc user.PasswordContext) error

func (f checkerFunc) CheckPassword(ctx context.Context, password string, pc user.PasswordContext) error {
	return f(ctx, password, pc)
}

var errBreached = errors.New("breached: seen 1234 times")

func TestPasswordPolicyCheck(t *testing.T) {
	ctx := context.Background()
	pc := user.PasswordContext{
		Username: "alice.smith",
		Email:    "alice.wonder@example.com",
		Extra:    []string{"Alice Smith-Jones"},
	}
	breached := checkerFunc(func(_ context.Context, pw string, _ user.PasswordContext) error {
		if pw == "correct horse battery staple" {
			return errBreached
		}
		return nil
	})
	def := user.PasswordPolicy{ServiceName: "Cedrina Cloud", Checkers: []user.PasswordChecker{breached}}
	tests := []struct {
		name   string
		p      user.PasswordPolicy
		pw     string
		reason user.PasswordReason // "" when accepted
	}{
		{"good passphrase", def, "tangerine submarine ladder", ""},
		{"8 code points", def, "x7#kq!2z", ""},
		{"8 multi-byte code points", def, "ŋŧøþæßðđ", ""},
		{"128 code points", def, strings.Repeat("x7", 64), ""},
		{"unicode passphrase", def, "пароль-для-облака", ""},
		{"no composition rules: all lower case", def, "mellifluous tangerine", ""},
		{"sql metacharacters are just characters", def, "'; DROP TABLE users;--", ""},
		{"empty", def, "", user.ReasonTooShort},
		{"7 code points", def, "x7#kq!2", user.ReasonTooShort},
		{"7 code points in 14 bytes", def, "ŋŧøþæßð", user.ReasonTooShort},
		{"short after NFKC composition", def, strings.Repeat("e\u0301", 7), user.ReasonTooShort},
		{"129 code points", def, strings.Repeat("x", 129), user.ReasonTooLong},
		{"huge", def, strings.Repeat("x", 1<<20), user.ReasonTooLong},
		{"NIST single factor minimum", user.PasswordPolicy{MinLength: 15}, "x7#kq!2zx7#kq!", user.ReasonTooShort},
		{"NIST single factor, 15 code points", user.PasswordPolicy{MinLength: 15}, "x7#kq!2zx7#kq!2", ""},
		{"NUL", def, "tangerine\x00submarine", user.ReasonInvalid},
		{"invalid UTF-8", def, "tangerine\xffsubmarine", user.ReasonInvalid},
		{"newline", def, "tangerine submarine\n", user.ReasonInvalid},
		{"common", def, "password1", user.ReasonCommon},
		{"common, other case", def, "Password1", user.ReasonCommon},
		{"common, upper case", def, "ILOVEYOU", user.ReasonCommon},
		{"common, full width", def, "ｉｌｏｖｅｙｏｕ", user.ReasonCommon},
		{"common name moved out of zxcvbn's password list", def, "jennifer", user.ReasonCommon},
		{"common word moved out of zxcvbn's password list", def, "Basketball", user.ReasonCommon},
		{"common keyboard walk", def, "qwertyuiop", user.ReasonCommon},
		{"common but blocklist disabled", user.PasswordPolicy{DisableBlocklist: true}, "password1", ""},
		{"service name", def, "cedrina cloud", user.ReasonContext},
		{"username", def, "Alice.Smith", user.ReasonContext},
		{"email", def, "Alice.Wonder@Example.com", user.ReasonContext},
		{"email local part", def, "ALICE.WONDER", user.ReasonContext},
		{"extra word", def, "alice smith-jones", user.ReasonContext},
		{"context word inside a longer password is fine", def, "alice.smith loves tangerines", ""},
		{"breached", def, "correct horse battery staple", user.ReasonRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check(ctx, tt.pw, pc)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var pe *user.PasswordError
			if !errors.As(err, &pe) || pe.Reason != tt.reason {
				t.Fatalf("Check = %v, want reason %q", err, tt.reason)
			}
			if !errors.Is(err, user.ErrWeakPassword) {
				t.Fatalf("error %v does not match ErrWeakPassword", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "user: password refused by policy: ") {
				t.Fatalf("error %q lacks the prefix", msg)
			}
			if len(tt.pw) >= 4 && strings.Contains(strings.ToLower(msg), strings.ToLower(tt.pw)) {
				t.Fatalf("error %q contains the password", msg)
			}
		})
	}
}

func TestPasswordErrorMessages(t *testing.T) {
	p := user.PasswordPolicy{MinLength: 12, MaxLength: 64}
	err := p.Check(context.Background(), "short", user.PasswordContext{})
	if got, want := err.Error(), "user: password refused by policy: too short (minimum 12 characters)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = p.Check(context.Background(), strings.Repeat("y", 65), user.PasswordContext{})
	if got, want := err.Error(), "user: password refused by policy: too long (maximum 64 characters)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestPasswordCheckerErrorIsWrappedNotPrinted(t *testing.T) {
	const pw = "unguessable tangerine 42"
	leaky := checkerFunc(func(_ context.Context, password string, _ user.PasswordContext) error {
		return errors.New("checker saw " + password) // a careless checker
	})
	p := user.PasswordPolicy{Checkers: []user.PasswordChecker{leaky}}
	err := p.Check(context.Background(), pw, user.PasswordContext{})
	var pe *user.PasswordError
	if !errors.As(err, &pe) || pe.Reason != user.ReasonRejected || pe.Err == nil {
		t.Fatalf("Check = %v, want ReasonRejected wrapping the checker's error", err)
	}
	if strings.Contains(err.Error(), pw) {
		t.Fatalf("error %q contains the password", err)
	}
	p.Checkers = []user.PasswordChecker{checkerFunc(func(context.Context, string, user.PasswordContext) error { return errBreached })}
	if err := p.Check(context.Background(), pw, user.PasswordContext{}); !errors.Is(err, errBreached) || !errors.Is(err, user.ErrWeakPassword) {
		t.Fatalf("Check = %v, want errBreached and ErrWeakPassword", err)
	}
}

func TestPasswordCheckerGetsContextAndNormalizedPassword(t *testing.T) {
	pc := user.PasswordContext{Username: "bob99"}
	var got string
	var gotPC user.PasswordContext
	p := user.PasswordPolicy{Checkers: []user.PasswordChecker{checkerFunc(func(_ context.Context, pw string, c user.PasswordContext) error {
		got, gotPC = pw, c
		return nil
	})}}
	if err := p.Check(context.Background(), "ｔａｎｇｅｒｉｎｅ ｓｕｂ", pc); err != nil {
		t.Fatal(err)
	}
	if got != "tangerine sub" || gotPC.Username != "bob99" {
		t.Fatalf("checker got %q, %+v", got, gotPC)
	}
}

func TestPasswordCheckCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	p := user.PasswordPolicy{Checkers: []user.PasswordChecker{checkerFunc(func(ctx context.Context, _ string, _ user.PasswordContext) error {
		called = true
		return ctx.Err()
	})}}
	err := p.Check(ctx, "tangerine submarine", user.PasswordContext{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, user.ErrWeakPassword) {
		t.Fatalf("Check = %v, want context.Canceled and not ErrWeakPassword", err)
	}
	if called {
		t.Fatal("checker called with a cancelled context")
	}
	// A checker that notices cancellation itself.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	p.Checkers = []user.PasswordChecker{checkerFunc(func(ctx context.Context, _ string, _ user.PasswordContext) error {
		cancel2()
		return ctx.Err()
	})}
	err = p.Check(ctx2, "tangerine submarine", user.PasswordContext{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, user.ErrWeakPassword) {
		t.Fatalf("Check = %v, want context.Canceled and not ErrWeakPassword", err)
	}
}

func TestPasswordCheckInvalidPolicy(t *testing.T) {
	err := user.PasswordPolicy{MinLength: 4}.Check(context.Background(), "tangerine submarine", user.PasswordContext{})
	if err == nil || errors.Is(err, user.ErrWeakPassword) || !strings.Contains(err.Error(), "MinLength") {
		t.Fatalf("Check with invalid policy = %v", err)
	}
}

func TestCommonPasswords(t *testing.T) {
	if n := user.CommonPasswordCount(user.DefaultMinPasswordLength); n < 3000 {
		t.Fatalf("only %d common passwords of at least %d code points, want at least 3000 (ASVS 6.2.4)", n, user.DefaultMinPasswordLength)
	}
	if all, long := user.CommonPasswordCount(0), user.CommonPasswordCount(8); all <= long {
		t.Fatalf("CommonPasswordCount(0) = %d, not above CommonPasswordCount(8) = %d", all, long)
	}
	if n := user.CommonPasswordCount(15); n == 0 {
		t.Fatal("no common passwords of 15 code points")
	}
	for _, s := range []string{"password1", "Password1", "PASSWORD1", "iloveyou", "IloveYou", "123456789", "qwerty123", "trustno1", "football", "jennifer", "michelle", "basketball"} {
		if !user.IsCommonPassword(s) {
			t.Errorf("IsCommonPassword(%q) = false", s)
		}
	}
	for _, s := range []string{"", "password1!", "correct horse battery staple", "tangerine submarine", "x7#kq!2z", "\xff\xfe", "password\x00"} {
		if user.IsCommonPassword(s) {
			t.Errorf("IsCommonPassword(%q) = true", s)
		}
	}
}

func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{
		"", "password1", "Password1", "tangerine submarine", "'; DROP TABLE users;--", "ｐａｓｓｗｏｒｄ１",
		"a\x00b", "\xff", "e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301", "\ufdfa", "alice.smith",
	} {
		f.Add(s)
	}
	p := user.PasswordPolicy{ServiceName: "cedrina"}
	pc := user.PasswordContext{Username: "alice.smith", Email: "alice@example.com"}
	f.Fuzz(func(t *testing.T, s string) {
		err := p.Check(context.Background(), s, pc)
		norm, nerr := user.NormalizePassword(s)
		if err == nil {
			if nerr != nil {
				t.Fatalf("Check accepted %q that NormalizePassword refuses: %v", s, nerr)
			}
			if n := utf8.RuneCountInString(norm); n < 8 || n > 128 {
				t.Fatalf("Check accepted %q of %d code points", s, n)
			}
			if user.IsCommonPassword(norm) {
				t.Fatalf("Check accepted common %q", s)
			}
			return
		}
		var pe *user.PasswordError
		if !errors.As(err, &pe) || !errors.Is(err, user.ErrWeakPassword) {
			t.Fatalf("Check(%q) = %v, not a PasswordError", s, err)
		}
		if nerr == nil {
			// Normalization is idempotent.
			if again, err := user.NormalizePassword(norm); err != nil || again != norm {
				t.Fatalf("NormalizePassword not idempotent on %q: %q, %v", norm, again, err)
			}
		}
		// The message is one of a fixed set, so it cannot carry the password.
		switch err.Error() {
		case "user: password refused by policy: too short (minimum 8 characters)",
			"user: password refused by policy: too long (maximum 128 characters)",
			"user: password refused by policy: invalid characters",
			"user: password refused by policy: too common",
			"user: password refused by policy: matches a context word":
		default:
			t.Fatalf("unexpected error message %q", err)
		}
	})
}
