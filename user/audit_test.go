package user_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// withAudit runs fn on a user store and an audit store of one database:
// memory, and PostgreSQL when configured.
func withAudit(t *testing.T, fn func(t *testing.T, users user.Store, events audit.Store)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		db := memory.New()
		fn(t, db.Users(), db.Audit())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, err := postgres.New(pgtest.DB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, db.Users(), db.Audit())
	})
}

// allEvents returns every stored event, oldest first.
func allEvents(t *testing.T, a *audit.Service) []audit.Event {
	t.Helper()
	var out []audit.Event
	q := audit.Query{Limit: 1000}
	for {
		p, err := a.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// TestAuditTrail runs every account flow and checks the events recorded,
// in order, with their users and reasons; then deletes the user and
// checks that the database detached the events and the chain still
// verifies.
func TestAuditTrail(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		c := newClock()
		a, err := audit.NewService(events, audit.Config{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		s := newService(t, users, user.Config{Now: c.Now, Recorder: a, Lockout: user.LockoutPolicy{Threshold: 3}})
		ctx := audit.ContextWithRequestInfo(context.Background(), audit.RequestInfo{UserAgent: "test-agent", CorrelationID: "req-1"})
		u, err := s.Register(ctx, user.Registration{Username: "olive", Email: "olive@example.com", Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		step := func() { c.Advance(time.Second) }
		step()
		mustLogin := func(pw string) {
			if _, err := s.Login(ctx, "olive", pw); err != nil {
				t.Fatal(err)
			}
		}
		mustLogin(goodPassword)
		step()
		s.Login(ctx, "nobody", goodPassword)
		step()
		for range 3 {
			s.Login(ctx, "olive", "wrong")
			step()
		}
		s.Login(ctx, "olive", goodPassword) // locked
		c.Advance(15 * time.Minute)
		mustLogin(goodPassword)
		step()
		s.ChangePassword(ctx, u.ID, "wrong", "another long passphrase")
		step()
		if err := s.ChangePassword(ctx, u.ID, goodPassword, "another long passphrase"); err != nil {
			t.Fatal(err)
		}
		step()
		s.SetRole(ctx, u.ID, user.RoleAdmin)
		step()
		s.SetTier(ctx, u.ID, user.TierPremium)
		step()
		s.UpdateProfile(ctx, u.ID, user.ProfileUpdate{Preferences: map[string]any{"theme": "dark"}})
		step()
		s.Deactivate(ctx, u.ID)
		step()
		s.Login(ctx, "olive", "another long passphrase")
		step()
		s.Reactivate(ctx, u.ID)
		step()

		type want struct {
			typ    audit.EventType
			user   bool // user_id is olive's
			reason string
			sev    audit.Severity
		}
		wants := []want{
			{audit.UserRegistered, true, "", audit.Info},
			{audit.LoginSucceeded, true, "", audit.Info},
			{audit.LoginFailed, false, "unknown_user", audit.Warning},
			{audit.LoginFailed, true, "wrong_password", audit.Warning},
			{audit.LoginFailed, true, "wrong_password", audit.Warning},
			{audit.LoginFailed, true, "wrong_password", audit.Warning},
			{audit.AccountLocked, true, "", audit.Error},
			{audit.LoginFailed, true, "locked", audit.Warning},
			{audit.LoginSucceeded, true, "", audit.Info},
			{audit.LoginFailed, true, "wrong_password", audit.Warning},
			{audit.PasswordChanged, true, "", audit.Info},
			{audit.RoleChanged, true, "", audit.Warning},
			{audit.TierChanged, true, "", audit.Info},
			{audit.ProfileUpdated, true, "", audit.Info},
			{audit.UserDeactivated, true, "", audit.Warning},
			{audit.LoginFailed, true, "inactive", audit.Warning},
			{audit.UserReactivated, true, "", audit.Info},
		}
		got := allEvents(t, a)
		if len(got) != len(wants) {
			for _, e := range got {
				t.Logf("%s %v", e.Type, e.Data)
			}
			t.Fatalf("%d events, want %d", len(got), len(wants))
		}
		for i, w := range wants {
			e := got[i]
			if e.Type != w.typ || e.Severity != w.sev || (e.UserID != nil) != w.user || (w.user && *e.UserID != u.ID) {
				t.Errorf("event %d = %s/%s user %v, want %s/%s (olive: %v)", i, e.Type, e.Severity, e.UserID, w.typ, w.sev, w.user)
			}
			if w.reason != "" && e.Data["reason"] != w.reason {
				t.Errorf("event %d (%s): reason %v, want %s", i, e.Type, e.Data["reason"], w.reason)
			}
			if e.Source != "user" || e.UserAgent != "test-agent" || e.CorrelationID != "req-1" {
				t.Errorf("event %d: source %q, user agent %q, correlation %q", i, e.Source, e.UserAgent, e.CorrelationID)
			}
		}
		if got[6].Data["attempts"] != float64(3) || got[9].Data["during"] != "password_change" {
			t.Errorf("lockout data %v, password change refusal data %v", got[6].Data, got[9].Data)
		}
		if got[11].Data["role"] != "ADMIN" || got[13].Data["fields"].([]any)[0] != "preferences" {
			t.Errorf("role data %v, profile data %v", got[11].Data, got[13].Data)
		}

		// Deleting the user detaches its events; the chain still verifies.
		if err := s.Delete(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		got = allEvents(t, a)
		last := got[len(got)-1]
		if last.Type != audit.UserDeleted || last.UserID != nil || last.ActorID == nil || *last.ActorID != u.ID {
			t.Errorf("deletion event = %s, user %v, actor %v", last.Type, last.UserID, last.ActorID)
		}
		for _, e := range got {
			if e.UserID != nil {
				t.Errorf("%s still names the deleted user", e.Type)
			}
		}
		if n, err := a.Verify(context.Background(), 0, 0); err != nil || n != int64(len(got)) {
			t.Fatalf("Verify = %d, %v; want %d, nil", n, err, len(got))
		}
	})
}

// TestSetRoleRecordsActor: the role_changed event keeps the role and,
// when the context names who acted, says so in "by" (a user's id or a
// named actor); without an actor it has no "by".
func TestSetRoleRecordsActor(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		a, err := audit.NewService(events, audit.Config{})
		if err != nil {
			t.Fatal(err)
		}
		s := newService(t, users, user.Config{Recorder: a})
		ctx := context.Background()
		u, err := s.Register(ctx, user.Registration{Username: "quinn", Email: "quinn@example.com", Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			ctx  context.Context
			role user.Role
			by   any // nil: no "by"
		}{
			{ctx, user.RoleAdmin, nil},
			{audit.ContextWithActor(ctx, audit.Actor{UserID: 7}), user.RoleUser, "7"},
			{audit.ContextWithActor(ctx, audit.Actor{Name: "cli"}), user.RoleAdmin, "cli"},
			{audit.ContextWithActor(ctx, audit.Actor{}), "AUDITOR", nil},
		}
		for _, st := range steps {
			if _, err := s.SetRole(st.ctx, u.ID, st.role); err != nil {
				t.Fatal(err)
			}
		}
		var got []audit.Event
		for _, e := range allEvents(t, a) {
			if e.Type == audit.RoleChanged {
				got = append(got, e)
			}
		}
		if len(got) != len(steps) {
			t.Fatalf("%d role_changed events, want %d", len(got), len(steps))
		}
		for i, st := range steps {
			e := got[i]
			by, ok := e.Data["by"]
			if e.Data["role"] != string(st.role) || by != st.by || ok != (st.by != nil) {
				t.Errorf("event %d: data %v, want role %s by %v", i, e.Data, st.role, st.by)
			}
			if e.UserID == nil || *e.UserID != u.ID {
				t.Errorf("event %d: user %v, want the user whose role changed (%d)", i, e.UserID, u.ID)
			}
		}
	})
}

// TestNoSecretsRecorded runs the flows with a capturing logger on both
// services and searches every log line and every stored event for the
// passwords and hashes used.
func TestNoSecretsRecorded(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		var logs bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		a, err := audit.NewService(events, audit.Config{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		s := newService(t, users, user.Config{Logger: log, Recorder: a})
		ctx := context.Background()
		secrets := []string{"Zebra-Quartz-7731-first", "Zebra-Quartz-7731-second", "Zebra-Quartz-7731-wrong"}
		u, err := s.Register(ctx, user.Registration{Username: "pat", Email: "pat@example.com", Password: secrets[0]})
		if err != nil {
			t.Fatal(err)
		}
		s.Register(ctx, user.Registration{Username: "pat", Email: "p2@example.com", Password: secrets[0]})
		s.Register(ctx, user.Registration{Username: "weak", Email: "w@example.com", Password: "Zebra"})
		s.Login(ctx, "pat", secrets[2])
		s.Login(ctx, secrets[2], secrets[2]) // password typed into the name field
		s.Login(ctx, "pat", secrets[0])
		s.ChangePassword(ctx, u.ID, secrets[2], secrets[1])
		s.ChangePassword(ctx, u.ID, secrets[0], secrets[1])
		s.Login(ctx, "pat@example.com", secrets[1])
		stored, _ := s.Get(ctx, u.ID)
		secrets = append(secrets, u.HashedPassword, stored.HashedPassword, "Zebra")

		dump, err := json.Marshal(allEvents(t, a))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(dump), string(audit.LoginFailed)) {
			t.Fatalf("no events recorded: %s", dump)
		}
		for _, secret := range secrets {
			if strings.Contains(string(dump), secret) {
				t.Errorf("an audit event contains %q", secret)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the logs contain %q", secret)
			}
		}
	})
}

// failingRecorder refuses every event.
type failingRecorder struct{ calls int }

func (f *failingRecorder) Record(context.Context, audit.Event) error {
	f.calls++
	return audit.ErrQueueFull
}

// TestRecorderFailure: a recorder's failure is logged and does not fail
// the account operation.
func TestRecorderFailure(t *testing.T) {
	var logs bytes.Buffer
	rec := &failingRecorder{}
	s := newService(t, memory.New().Users(), user.Config{Recorder: rec, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	register(t, s, "quin")
	if _, err := s.Login(context.Background(), "quin", goodPassword); err != nil {
		t.Fatal(err)
	}
	if rec.calls != 2 || !strings.Contains(logs.String(), "recording an audit event failed") {
		t.Fatalf("recorder called %d times; logs:\n%s", rec.calls, logs.String())
	}
}
