package rbac

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/persist"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// Config configures an [Authorizer]. Store is required; every other field
// has a safe zero value.
type Config struct {
	// Store keeps the rules.
	Store Store
	// Model is the access control model. Default [RBAC].
	Model Model
	// Watcher reports changes made elsewhere (other processes): on each,
	// the Authorizer reloads. Default: the Store itself when it is a
	// Watcher (MemoryStore), else none, and only this Authorizer's own
	// changes are seen. On PostgreSQL, use store/postgres's PolicyWatcher.
	Watcher Watcher
	// Recorder receives policy_changed events for every change and
	// authorization_denied events for denied checks. Default: none.
	Recorder audit.Recorder
	// Logger receives reload failures and rules the model cannot use.
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock of created_at / updated_at and of events. Default
	// time.Now.
	Now func() time.Time
	// RetryInterval is how long after a failed reload the Authorizer tries
	// again (until then every check denies). Default 1s.
	RetryInterval time.Duration
}

// Authorizer decides requests against the active rules and administers
// them. Decisions come from an index of every subject's permissions that
// is rebuilt on every change, before the change returns: a revoked
// permission is denied on the very next check, and other instances
// rebuild when their Watcher reports the change. It is safe for
// concurrent use.
type Authorizer struct {
	st      Store
	model   Model
	rec     audit.Recorder
	log     *slog.Logger
	now     func() time.Time
	retry   time.Duration
	cancel  func()
	loadMu  sync.Mutex
	state   atomic.Pointer[decider]
	kick    chan struct{}
	done    chan struct{}
	stop    chan struct{}
	closeMu sync.Once
	// loopCtx bounds the background reloads; Close cancels it.
	loopCtx    context.Context
	loopCancel context.CancelFunc
}

// decider is one loaded policy: an index, or a Casbin enforcer for a
// model of the host's; nil fields deny everything (a failed load).
type decider struct {
	ix  *index
	enf *casbin.SyncedEnforcer
	err error
	at  time.Time
}

// New loads the active rules and returns the Authorizer, or an error
// naming the bad field or saying why the rules could not be loaded.
func New(ctx context.Context, cfg Config) (*Authorizer, error) {
	if cfg.Store == nil {
		return nil, errs.Configf("rbac", "Config.Store", "required")
	}
	if cfg.RetryInterval < 0 {
		return nil, errs.Configf("rbac", "Config.RetryInterval", "%v is negative", cfg.RetryInterval)
	}
	a := &Authorizer{st: cfg.Store, model: cfg.Model.orDefault(), rec: cfg.Recorder, log: cfg.Logger, now: cfg.Now,
		retry: cfg.RetryInterval, kick: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.retry == 0 {
		a.retry = time.Second
	}
	if _, err := a.model.casbin(); err != nil {
		return nil, errs.ConfigErr("rbac", "Config.Model", err)
	}
	a.loopCtx, a.loopCancel = context.WithCancel(context.Background())
	if err := a.Reload(ctx); err != nil {
		a.loopCancel()
		return nil, err
	}
	w := cfg.Watcher
	if w == nil {
		w, _ = cfg.Store.(Watcher)
	}
	a.cancel = func() {}
	if w != nil {
		a.cancel = w.Subscribe(a.changed)
	}
	go a.loop()
	return a, nil
}

// changed asks the background loop for a reload (coalesced).
func (a *Authorizer) changed() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// loop reloads after each change reported by the watcher, and retries a
// failed reload every RetryInterval.
func (a *Authorizer) loop() {
	defer close(a.done)
	var retry <-chan time.Time
	for {
		select {
		case <-a.stop:
			return
		case <-a.kick:
		case <-retry:
		}
		retry = nil
		ctx, cancel := context.WithTimeout(a.loopCtx, reloadTimeout)
		err := a.Reload(ctx)
		cancel()
		if err != nil {
			t := time.NewTimer(a.retry)
			retry = t.C
		}
	}
}

// reloadTimeout bounds a reload the Authorizer starts by itself (after a
// notification, after a change): a database that hangs longer fails it,
// and checks deny until a reload succeeds.
const reloadTimeout = 30 * time.Second

// Close stops listening for changes and abandons a background reload in
// progress. Decisions keep working on the last loaded policy. It returns
// when the background work has stopped, or with ctx's error when ctx
// ends first.
func (a *Authorizer) Close(ctx context.Context) error {
	a.closeMu.Do(func() {
		a.cancel()
		close(a.stop)
		a.loopCancel()
	})
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reload loads the active rules and rebuilds the decision index. On
// failure every check denies (fail closed) until a reload succeeds (a
// reload whose ctx is cancelled before it ends changes nothing); the
// Authorizer retries by itself every RetryInterval after a failure it
// met in the background. Changes made through the Authorizer reload
// before they return; call Reload only after changing the Store behind
// its back without a Watcher.
func (a *Authorizer) Reload(ctx context.Context) error {
	a.loadMu.Lock()
	defer a.loadMu.Unlock()
	d, err := a.load(ctx)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		// Abandoned by its caller (Close, a caller's cancellation): the
		// state is as unknown as before; the current index stays.
		return fmt.Errorf("rbac: loading the policy: %w", err)
	}
	if err != nil {
		a.log.ErrorContext(ctx, "rbac: loading the policy failed; denying every check until a reload succeeds", "error", err)
		a.state.Store(&decider{err: err, at: a.now()})
		return fmt.Errorf("rbac: loading the policy: %w", err)
	}
	a.state.Store(d)
	return nil
}

func (a *Authorizer) load(ctx context.Context) (*decider, error) {
	rules, err := a.st.Rules(ctx, Filter{})
	if err != nil {
		return nil, err
	}
	d := &decider{at: a.now()}
	if a.model.kind != kindCasbin {
		var prev *index
		if old := a.state.Load(); old != nil {
			prev = old.ix
		}
		d.ix = buildIndex(a.model.kind, rules, prev, func(r Rule, err error) {
			a.log.WarnContext(ctx, "rbac: rule skipped: the model cannot use it", "rule_id", r.ID, "error", err)
		})
		return d, nil
	}
	m, err := a.model.casbin()
	if err != nil {
		return nil, err
	}
	if err := loadRules(m, rules); err != nil {
		return nil, err
	}
	enf, err := casbin.NewSyncedEnforcer(m)
	if err != nil {
		return nil, err
	}
	enf.EnableAutoSave(false)
	if err := enf.BuildRoleLinks(); err != nil {
		return nil, err
	}
	d.enf = enf
	return d, nil
}

// Err reports why checks are denied wholesale: nil while a policy is
// loaded, else the last load's error (wrapped in ErrNotLoaded). For
// health checks.
func (a *Authorizer) Err() error {
	d := a.state.Load()
	if d == nil || d.err != nil {
		var cause error
		if d != nil {
			cause = d.err
		}
		return fmt.Errorf("%w: %w", ErrNotLoaded, cause)
	}
	return nil
}

// Model returns the Authorizer's model.
func (a *Authorizer) Model() Model { return a.model }

// decide answers a request without recording anything.
func (a *Authorizer) decide(subject, object, action string, attrs []string) bool {
	d := a.state.Load()
	switch {
	case d == nil:
		return false
	case d.ix != nil:
		switch d.ix.kind {
		case kindRBAC:
			return len(attrs) == 0 && d.ix.allowed("", subject, object, action)
		case kindDomains:
			return len(attrs) == 1 && d.ix.allowed(attrs[0], subject, object, action)
		case kindABAC:
			at := [3]string{"*", "*", "*"}
			if len(attrs) > 3 {
				return false
			}
			copy(at[:], attrs)
			return d.ix.allowedAttrs(subject, object, action, at[0], at[1], at[2])
		}
	case d.enf != nil:
		req, ok := a.model.request(subject, object, action, attrs)
		if !ok {
			return false
		}
		allowed, err := d.enf.Enforce(req...)
		return err == nil && allowed
	}
	return false
}

// Allowed reports whether subject may do action on object, deny by
// default: only an active rule that grants it allows. Attributes follow
// the model: none for [RBAC], the domain for [Domains], department,
// location and time of day for [Attributes]; a request the model cannot
// take (the wrong number of attributes) is denied, as is every request
// while no policy is loaded. A denial is recorded as an
// authorization_denied event when a Recorder is configured.
//
// With the shipped models an allowed decision takes a few map lookups
// and allocates nothing.
func (a *Authorizer) Allowed(ctx context.Context, subject, object, action string, attrs ...string) bool {
	if a.decide(subject, object, action, attrs) {
		return true
	}
	a.denied(ctx, subject, "", object, action, attrs)
	return false
}

// Subject returns the subject a role checks as: the role lower-cased, as
// the original system's stored rules spell it (ADMIN is "admin").
func Subject(role user.Role) string { return strings.ToLower(string(role)) }

// UserSubject returns the subject of one user, "user:42": the member of
// the g rules that give that user roles beyond users.role.
func UserSubject(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// AllowedPrincipal reports whether the signed-in p may do action on
// object: whether its role (Subject(p.Role)) may, or the user itself
// (UserSubject(p.UserID), through the roles its own g rules give it).
// A nil p is denied.
func (a *Authorizer) AllowedPrincipal(ctx context.Context, p *session.Principal, object, action string, attrs ...string) bool {
	if p == nil {
		a.denied(ctx, "", "", object, action, attrs)
		return false
	}
	role := Subject(p.Role)
	if a.decide(role, object, action, attrs) || a.decide(UserSubject(p.UserID), object, action, attrs) {
		return true
	}
	a.denied(ctx, role, UserSubject(p.UserID), object, action, attrs)
	return false
}

// denied records an authorization_denied event for the subjects that
// were checked (none when there was no principal).
func (a *Authorizer) denied(ctx context.Context, s1, s2, object, action string, attrs []string) {
	if a.rec == nil {
		return
	}
	var subjects []string
	for _, s := range []string{s1, s2} {
		if s != "" {
			subjects = append(subjects, s)
		}
	}
	data := map[string]any{"subjects": subjects, "object": object, "action": action}
	if len(attrs) > 0 {
		data["attributes"] = append([]string(nil), attrs...)
	}
	if err := a.Err(); err != nil {
		data["reason"] = "policy_not_loaded"
	}
	e := audit.Event{Type: audit.AuthorizationDenied, Severity: audit.Warning, Time: a.now(), Source: "rbac", Data: data}
	if p, ok := session.PrincipalFromContext(ctx); ok && p.UserID != 0 {
		id := p.UserID
		e.UserID = &id
	}
	if err := a.rec.Record(ctx, e); err != nil {
		a.log.ErrorContext(ctx, "rbac: recording an audit event failed", "event_type", string(e.Type), "error", err)
	}
}

// Policy administration. Each change is written through the Store with
// the context's audit.Actor as created_by / updated_by, then the index
// is rebuilt before the method returns, and a policy_changed event is
// recorded.

// Grant gives subject the permission to do action on object (with the
// model's attributes, as Allowed takes them). It reports whether the
// rule was added or reactivated (false: it was already active).
func (a *Authorizer) Grant(ctx context.Context, subject, object, action string, attrs ...string) (bool, error) {
	v, err := a.model.policyValues(subject, object, action, attrs)
	if err != nil {
		return false, err
	}
	n, err := a.AddRules(ctx, Rule{Type: "p", Values: Trim(v)})
	return n > 0, err
}

// Revoke removes the permission Grant gave. It reports whether an active
// rule was removed.
func (a *Authorizer) Revoke(ctx context.Context, subject, object, action string, attrs ...string) (bool, error) {
	v, err := a.model.policyValues(subject, object, action, attrs)
	if err != nil {
		return false, err
	}
	n, err := a.RemoveRules(ctx, Filter{Type: "p", Values: v, Exact: true})
	return n > 0, err
}

// AddRole makes member hold role (a g rule): member is a role or a
// user's subject (UserSubject). The Domains model needs the domain.
func (a *Authorizer) AddRole(ctx context.Context, member, role string, domain ...string) (bool, error) {
	n, err := a.AddRules(ctx, Rule{Type: "g", Values: append([]string{member, role}, domain...)})
	return n > 0, err
}

// RemoveRole removes the g rule AddRole added.
func (a *Authorizer) RemoveRole(ctx context.Context, member, role string, domain ...string) (bool, error) {
	n, err := a.RemoveRules(ctx, Filter{Type: "g", Values: append([]string{member, role}, domain...), Exact: true})
	return n > 0, err
}

// AddRules adds rules (active) in one transaction and returns how many
// were added or reactivated. Each must be valid and fit the model
// (ErrInvalidRule otherwise, and nothing is added).
func (a *Authorizer) AddRules(ctx context.Context, rules ...Rule) (int, error) {
	clean := make([]Rule, len(rules))
	lines := make([]string, len(rules))
	for i, r := range rules {
		r = Rule{Type: r.Type, Values: Trim(r.Values)}
		if err := r.Validate(); err != nil {
			return 0, err
		}
		if err := a.model.CheckRule(r); err != nil {
			return 0, err
		}
		clean[i], lines[i] = r, r.Line()
	}
	by, err := a.actor(ctx)
	if err != nil {
		return 0, err
	}
	n, err := a.st.Add(ctx, clean, by, a.now())
	if err != nil {
		return 0, err
	}
	return n, a.changedHere(ctx, "add", n, map[string]any{"rules": lines})
}

// RemoveRules deletes the active rules that match f (f.Type required)
// and returns how many.
func (a *Authorizer) RemoveRules(ctx context.Context, f Filter) (int, error) {
	if err := validType(f.Type); err != nil {
		return 0, err
	}
	by, err := a.actor(ctx)
	if err != nil {
		return 0, err
	}
	n, err := a.st.Remove(ctx, f, by, a.now())
	if err != nil {
		return 0, err
	}
	return n, a.changedHere(ctx, "remove", n, map[string]any{"filter": filterData(f)})
}

// SetRuleActive activates or deactivates the rule with id, keeping it
// and its history. ErrNotFound when no rule has id.
func (a *Authorizer) SetRuleActive(ctx context.Context, id int64, active bool) (Rule, error) {
	by, err := a.actor(ctx)
	if err != nil {
		return Rule{}, err
	}
	r, err := a.st.SetActive(ctx, id, active, by, a.now())
	if err != nil {
		return Rule{}, err
	}
	op := "deactivate"
	if active {
		op = "activate"
	}
	return r, a.changedHere(ctx, op, 1, map[string]any{"rule_id": id, "rule": r.Line()})
}

// Rules lists the rules that match f (inactive ones with f.Inactive).
func (a *Authorizer) Rules(ctx context.Context, f Filter) ([]Rule, error) {
	return a.st.Rules(ctx, f)
}

// actor is the context's actor as stored.
func (a *Authorizer) actor(ctx context.Context) (string, error) {
	by := actor(ctx)
	return by, ValidActor(by)
}

// changedHere rebuilds the index after a change of this Authorizer and
// records it. The change is stored: the rebuild runs to its end even when
// the caller's context is cancelled (a client that went away), so that
// this instance never enforces less than it stored.
func (a *Authorizer) changedHere(ctx context.Context, op string, n int, data map[string]any) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reloadTimeout)
	err := a.Reload(rctx)
	cancel()
	if n > 0 && a.rec != nil {
		data["operation"], data["changed"] = op, n
		e := audit.Event{Type: audit.PolicyChanged, Severity: audit.Warning, Time: a.now(), Source: "rbac", Data: data}
		if ac, ok := audit.ActorFromContext(ctx); ok {
			if ac.UserID != 0 {
				id := ac.UserID
				e.UserID = &id
			}
			data["by"] = ac.String()
		}
		if rerr := a.rec.Record(ctx, e); rerr != nil {
			a.log.ErrorContext(ctx, "rbac: recording an audit event failed", "event_type", string(e.Type), "error", rerr)
		}
	}
	if err != nil {
		return fmt.Errorf("rbac: the change is stored, but %w", err)
	}
	return nil
}

func filterData(f Filter) map[string]any {
	return map[string]any{"ptype": f.Type, "values": f.Values, "exact": f.Exact}
}

// NewEnforcer returns a Casbin enforcer of the model on the Store's
// active rules (through [NewAdapter]): Casbin's own decision, for hosts
// that want Casbin's API, and for comparing decisions. It is not kept in
// step with later changes.
func NewEnforcer(m Model, st Store) (*casbin.Enforcer, error) {
	cm, err := m.casbin()
	if err != nil {
		return nil, err
	}
	return casbin.NewEnforcer(cm, persist.Adapter(NewAdapter(st)))
}
