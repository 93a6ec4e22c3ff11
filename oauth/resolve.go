package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/user"
)

// errRace: a concurrent callback of the same identity linked it first;
// resolving again finds it.
var errRace = errors.New("oauth: identity linked concurrently")

// resolve decides what the verified identity does: sign in, link, or
// sign up.
func (s *Service) resolve(ctx context.Context, p *Provider, f *flow, id *Identity, tok *oauth2.Token) (*Result, error) {
	for range 3 {
		res, err := s.resolveOnce(ctx, p, f, id, tok)
		if !errors.Is(err, errRace) {
			return res, err
		}
	}
	return nil, fmt.Errorf("oauth: identity of %s kept changing while resolving it", p.stored)
}

func (s *Service) resolveOnce(ctx context.Context, p *Provider, f *flow, id *Identity, tok *oauth2.Token) (*Result, error) {
	prof, err := s.store.ByIdentity(ctx, p.stored, id.Subject)
	switch {
	case err == nil && f.LinkUser != 0:
		if prof.UserID != f.LinkUser {
			return nil, &CallbackError{Reason: ReasonIdentityTaken, UserID: f.LinkUser, Err: ErrIdentityTaken}
		}
		// Linked already, to this very user: refresh what is stored.
		if err := s.refresh(ctx, prof, id, tok); err != nil {
			return nil, err
		}
		u, err := s.users.Get(ctx, f.LinkUser)
		if err != nil {
			return nil, err
		}
		return &Result{Outcome: Linked, User: u}, nil
	case err == nil:
		return s.signIn(ctx, p, prof, id, tok, SignedIn)
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	if f.LinkUser != 0 {
		if _, err := s.link(ctx, p, f.LinkUser, f.LinkStamp, id, tok, "from_session"); err != nil {
			return nil, err
		}
		u, err := s.users.Get(ctx, f.LinkUser)
		if err != nil {
			return nil, err
		}
		return &Result{Outcome: Linked, User: u}, nil
	}
	email, err := user.ParseEmail(id.Email)
	if id.Email == "" || err != nil {
		return nil, refuse(ReasonEmailMissing, errors.New("the provider gave no usable email address"))
	}
	existing, err := s.users.GetByEmail(ctx, string(email))
	switch {
	case err == nil:
		if !id.EmailVerified || !p.linking || !existing.IsVerified || existing.Email != email {
			return nil, &CallbackError{Reason: ReasonLinkRequired, UserID: existing.ID,
				Err: fmt.Errorf("address verified by the provider: %t, may link: %t, by the account: %t", id.EmailVerified, p.linking, existing.IsVerified)}
		}
		prof, err := s.link(ctx, p, existing.ID, existing.SecurityStamp, id, tok, "email_match")
		if err != nil {
			return nil, err
		}
		return s.signIn(ctx, p, prof, nil, nil, LinkedByEmail)
	case !errors.Is(err, user.ErrNotFound):
		return nil, err
	}
	return s.signUp(ctx, p, id, tok, email)
}

// newProfile is the profile of id for the user, its tokens sealed.
func (s *Service) newProfile(userID int64, p *Provider, id *Identity, tok *oauth2.Token) *Profile {
	return &Profile{UserID: userID, Provider: p.stored, ProviderUserID: id.Subject,
		AccessToken: s.cipher.Seal(tok.AccessToken, userID, p.stored), RefreshToken: s.cipher.Seal(tok.RefreshToken, userID, p.stored),
		TokenExpiresAt: expiry(tok), UserInfo: id.Info, CreatedAt: s.clock()}
}

func expiry(tok *oauth2.Token) *time.Time {
	if tok.Expiry.IsZero() {
		return nil
	}
	t := tok.Expiry.UTC().Truncate(time.Microsecond)
	return &t
}

// link links id to the user, whose security stamp the caller read as
// stamp, and records it.
func (s *Service) link(ctx context.Context, p *Provider, userID, stamp int64, id *Identity, tok *oauth2.Token, how string) (*Profile, error) {
	prof := s.newProfile(userID, p, id, tok)
	err := s.store.Link(ctx, prof, stamp)
	switch {
	case err == nil:
	case errors.Is(err, ErrIdentityTaken) && how != "from_session":
		return nil, errRace
	case errors.Is(err, ErrIdentityTaken):
		return nil, &CallbackError{Reason: ReasonIdentityTaken, UserID: userID, Err: err}
	case errors.Is(err, ErrProviderLinked):
		return nil, &CallbackError{Reason: ReasonProviderLinked, UserID: userID, Err: err}
	case errors.Is(err, ErrUserChanged), errors.Is(err, ErrUnknownUser):
		return nil, &CallbackError{Reason: ReasonAccountChanged, UserID: userID, Err: err}
	default:
		return nil, err
	}
	s.record(ctx, audit.OAuthLinked, audit.Info, userID, map[string]any{"provider": p.stored, "how": how})
	return prof, nil
}

// refresh stores the tokens and user info of a sign-in through a linked
// identity. A failure is logged: the sign-in itself stands.
func (s *Service) refresh(ctx context.Context, prof *Profile, id *Identity, tok *oauth2.Token) error {
	u := TokenUpdate{AccessToken: s.cipher.Seal(tok.AccessToken, prof.UserID, prof.Provider),
		RefreshToken: s.cipher.Seal(tok.RefreshToken, prof.UserID, prof.Provider), TokenExpiresAt: expiry(tok), UserInfo: id.Info}
	if u.RefreshToken == "" {
		// Providers send a refresh token at the first consent only: keep
		// the one stored.
		u.RefreshToken = prof.RefreshToken
	}
	if _, err := s.store.UpdateTokens(ctx, prof.ID, u, s.clock()); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// signIn signs the profile's user in; id and tok, when given, refresh the
// stored tokens.
func (s *Service) signIn(ctx context.Context, p *Provider, prof *Profile, id *Identity, tok *oauth2.Token, outcome Outcome) (*Result, error) {
	lr, err := s.users.LoginExternal(ctx, prof.UserID, "oauth:"+p.name)
	var ae *user.AuthError
	if errors.As(err, &ae) {
		reason := ReasonAccountChanged
		if ae.Reason == user.AuthInactive {
			reason = ReasonAccountInactive
		}
		return nil, &CallbackError{Reason: reason, UserID: prof.UserID}
	}
	if err != nil {
		return nil, err
	}
	if tok != nil {
		if err := s.refresh(ctx, prof, id, tok); err != nil {
			s.log.WarnContext(ctx, "oauth: storing the provider's tokens failed", "user_id", prof.UserID, "provider", p.stored, "error", err)
		}
	}
	s.record(ctx, audit.OAuthLogin, audit.Info, prof.UserID, map[string]any{"provider": p.stored, "outcome": string(outcome)})
	return &Result{Outcome: outcome, User: lr.User}, nil
}

// signUpAttempts is how many usernames a sign-up tries.
const signUpAttempts = 8

// signUp makes an account without a password for id and links id to it,
// in one transaction, then signs it in.
func (s *Service) signUp(ctx context.Context, p *Provider, id *Identity, tok *oauth2.Token, email user.Email) (*Result, error) {
	base := deriveUsername(id)
	for attempt := range signUpAttempts {
		name := usernameCandidate(base, attempt)
		var prof *Profile
		err := s.tx.InTx(ctx, func(ctx context.Context) error {
			u, err := s.users.CreateExternal(ctx, user.ExternalAccount{Username: name, Email: string(email),
				EmailVerified: id.EmailVerified && p.linking, ProfileData: profileData(id)})
			if err != nil {
				return err
			}
			prof = s.newProfile(u.ID, p, id, tok)
			return s.store.Link(ctx, prof, u.SecurityStamp)
		})
		switch {
		case err == nil:
			s.record(ctx, audit.UserRegistered, audit.Info, prof.UserID, map[string]any{"method": "oauth", "provider": p.stored})
			s.record(ctx, audit.OAuthLinked, audit.Info, prof.UserID, map[string]any{"provider": p.stored, "how": "sign_up"})
			return s.signIn(ctx, p, prof, nil, nil, SignedUp)
		case errors.Is(err, user.ErrUsernameTaken):
			continue
		case errors.Is(err, user.ErrEmailTaken):
			return nil, errRace // an account with the address appeared: resolve again
		case errors.Is(err, ErrIdentityTaken):
			return nil, errRace
		case errors.Is(err, user.ErrInvalidEmail):
			return nil, refuse(ReasonEmailMissing, errors.New("the provider's address is not one an account can have"))
		default:
			return nil, err
		}
	}
	return nil, fmt.Errorf("oauth: no free username found for a new %s identity after %d tries", p.stored, signUpAttempts)
}

// profileData is what a new account keeps of the identity's profile.
func profileData(id *Identity) map[string]any {
	m := map[string]any{}
	if id.Name != "" {
		m["name"] = id.Name
	}
	if id.Picture != "" {
		m["picture"] = id.Picture
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// deriveUsername returns a valid username made from the identity: its
// preferred username (GitHub's login), its address's local part or its
// name, whichever first gives one, or "user".
func deriveUsername(id *Identity) string {
	local, _, _ := strings.Cut(id.Email, "@")
	for _, c := range []string{id.Username, local, id.Name} {
		for _, ascii := range []bool{false, true} {
			if name := sanitizeUsername(c, ascii); name != "" {
				if u, err := user.ParseUsername(name); err == nil {
					return string(u)
				}
			}
		}
	}
	return "user"
}

// maxBaseUsername leaves room for a numeric suffix within the 50 code
// points of a username.
const maxBaseUsername = 40

// sanitizeUsername keeps the letters (ASCII ones only when ascii), digits
// and ".", "_", "-" of s, turns white space into "-", drops what cannot
// start or end a name, and cuts it to maxBaseUsername code points; ""
// when fewer than 3 remain.
func sanitizeUsername(s string, ascii bool) string {
	if len(s) > 1024 {
		s = s[:1024]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte('-')
		case !ascii && unicode.IsLetter(r):
			b.WriteRune(r)
		}
	}
	out := []rune(strings.TrimFunc(b.String(), func(r rune) bool { return r == '.' || r == '_' || r == '-' }))
	if len(out) > maxBaseUsername {
		out = []rune(strings.TrimRight(string(out[:maxBaseUsername]), "._-"))
	}
	if len(out) < user.MinUsernameLength {
		return ""
	}
	return string(out)
}

// usernameCandidate is base for the first attempt, then base with a
// random number appended.
func usernameCandidate(base string, attempt int) string {
	if attempt == 0 {
		return base
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%s-%06d", base, n.Int64())
}

// record sends an audit event, if there is a recorder. A failure is
// logged, not returned.
func (s *Service) record(ctx context.Context, typ audit.EventType, sev audit.Severity, userID int64, data map[string]any) {
	if s.rec == nil {
		return
	}
	e := audit.Event{Type: typ, Severity: sev, Time: s.clock(), Source: "oauth", Data: data}
	if userID != 0 {
		e.UserID = &userID
	}
	if err := s.rec.Record(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "oauth: recording an audit event failed", "event_type", string(typ), "user_id", userID, "error", err)
	}
}
