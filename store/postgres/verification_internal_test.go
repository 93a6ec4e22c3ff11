package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// TestVerificationSentinels: violations of email_verification_tokens'
// constraints, from every driver, become the user package's sentinels;
// the users constraints keep theirs. The foreign key is a backstop that
// the conformance suite cannot reach (CreateVerification locks the user's
// row first), so it is checked here.
func TestVerificationSentinels(t *testing.T) {
	for name, newErr := range drivers {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				code, constraint string
				want             error
			}{
				{"23503", "email_verification_tokens_user_id_fkey", user.ErrNotFound},
				{"23505", "email_verification_tokens_token_hash_key", store.ErrConflict},
				{"23505", "users_email_key", user.ErrEmailTaken},
			} {
				err := mapVerificationErr(translate(context.Background(), newErr(tc.code, "violated", tc.constraint)))
				if !errors.Is(err, tc.want) {
					t.Errorf("%s %s: err = %v, want %v", tc.code, tc.constraint, err, tc.want)
				}
				if strings.Contains(err.Error(), "secret@example.com") {
					t.Errorf("%s %s: err = %q quotes the row", tc.code, tc.constraint, err)
				}
			}
			if err := mapVerificationErr(translate(context.Background(), newErr("23505", "violated", "email_verification_tokens_token_hash_key"))); errors.Is(err, user.ErrNotFound) {
				t.Errorf("a duplicate hash matches user.ErrNotFound: %v", err)
			}
		})
	}
}
