package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/rbac"
)

// WatcherConfig configures a [PolicyWatcher]. The zero value is the
// default.
type WatcherConfig struct {
	// Channel is the channel to listen on; it must be the one the rule
	// stores notify on ([DB.RulesOn]). Default [PolicyChannel].
	Channel string
	// MinReconnect is the wait before reconnecting after the connection
	// is lost; it doubles after each failed attempt, up to MaxReconnect,
	// and starts again from MinReconnect once connected. Default 10 ms.
	MinReconnect time.Duration
	// MaxReconnect bounds the wait between attempts. Default 1 second.
	MaxReconnect time.Duration
	// PingInterval is how often the watcher sends an empty query on its
	// idle connection, so that a connection that died silently (a
	// crashed server, a firewall or proxy that dropped it) is noticed and
	// replaced. Default 30 seconds; negative: never.
	PingInterval time.Duration
	// DB is the pool [PolicyWatcher.Notify] sends its notification
	// through. Default: none; Notify opens a connection of its own, on
	// the watcher's connection string, for each call.
	DB *sql.DB
	// Logger receives the watcher's connection events: the connection
	// lost and attempts to reconnect that failed (Warn), the connection
	// re-established (Info). Default: discard.
	Logger *slog.Logger
}

func (c WatcherConfig) withDefaults() WatcherConfig {
	if c.Channel == "" {
		c.Channel = PolicyChannel
	}
	if c.MinReconnect == 0 {
		c.MinReconnect = 10 * time.Millisecond
	}
	if c.MaxReconnect == 0 {
		c.MaxReconnect = max(time.Second, c.MinReconnect)
	}
	if c.PingInterval == 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c WatcherConfig) validate() error {
	switch {
	case c.MinReconnect < 0:
		return errs.Configf("postgres", "WatcherConfig.MinReconnect", "%v is negative", c.MinReconnect)
	case c.MaxReconnect < 0:
		return errs.Configf("postgres", "WatcherConfig.MaxReconnect", "%v is negative", c.MaxReconnect)
	case c.MaxReconnect != 0 && c.MaxReconnect < c.MinReconnect:
		return errs.Configf("postgres", "WatcherConfig.MaxReconnect", "%v is below WatcherConfig.MinReconnect (%v)", c.MaxReconnect, c.MinReconnect)
	}
	if c.Channel != "" {
		if err := validChannel(c.Channel); err != nil {
			return errs.ConfigErr("postgres", "WatcherConfig.Channel", err)
		}
	}
	return nil
}

// Payloads of the notifications that no rule store sent.
const (
	// reconnectPayload is what subscribers receive after the connection
	// was re-established.
	reconnectPayload = `{"op":"reconnect"}`
	// notifyPayload is what PolicyWatcher.Notify sends.
	notifyPayload = `{"op":"notify"}`
)

// PolicyWatcher listens for the notifications of rule stores ([RuleStore])
// on a connection of its own, and tells its subscribers that the rules
// changed: after each notification, and after each reconnection, since
// notifications sent while the connection was down are lost. It
// implements [rbac.Watcher]; [PolicyWatcher.Casbin] adapts it to Casbin's
// persist.Watcher. See the package documentation's "Policy rules"
// section.
//
// Subscribers are called one after another on the watcher's goroutine,
// once per notification, in the order the notifications arrive: a slow
// one delays the others and the notifications after it (the server
// queues them; none is lost). A subscriber must not call Close.
type PolicyWatcher struct {
	l       *pq.Listener
	dsn     string
	channel string
	db      *sql.DB
	log     *slog.Logger

	connected atomic.Bool
	firstErr  chan error // the first connection attempt's failure

	mu      sync.Mutex
	subs    []watchSub // in the order they subscribed
	lastSub int
	closed  bool

	stop      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

type watchSub struct {
	id int
	fn func(payload string)
}

var _ rbac.Watcher = (*PolicyWatcher)(nil)

// NewPolicyWatcher connects to the server named by dsn (a postgres://
// URL or a key=value connection string, as lib/pq takes it), listens on
// cfg.Channel, and returns once it listens: every change committed after
// it returns reaches the subscribers. When the first connection fails,
// it returns the error. The watcher holds one connection for as long as
// it lives, reconnecting whenever it is lost; Close releases it.
//
// A dsn with connect_timeout bounds each connection attempt; lib/pq
// waits as long as the network does otherwise. Setting
// application_name in dsn names the connection in pg_stat_activity.
func NewPolicyWatcher(dsn string, cfg WatcherConfig) (*PolicyWatcher, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres: NewPolicyWatcher: empty connection string")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	w := &PolicyWatcher{
		dsn: dsn, channel: cfg.Channel, db: cfg.DB, log: cfg.Logger,
		firstErr: make(chan error, 1), stop: make(chan struct{}),
	}
	w.l = pq.NewListener(dsn, cfg.MinReconnect, cfg.MaxReconnect, w.event)
	w.wg.Add(1)
	go w.dispatch()

	listened := make(chan error, 1)
	go func() { listened <- w.l.Listen(w.channel) }()
	var err error
	select {
	case err = <-listened:
	case err = <-w.firstErr:
		w.Close() // Listen returns
		<-listened
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("postgres: policy watcher: listen on %q: %w", w.channel, redact(sanitize(err), dsn))
	}
	if cfg.PingInterval > 0 {
		w.wg.Add(1)
		go w.ping(cfg.PingInterval)
	}
	return w, nil
}

// event is the listener's callback for connection events, called on
// lib/pq's goroutine.
func (w *PolicyWatcher) event(ev pq.ListenerEventType, err error) {
	switch ev {
	case pq.ListenerEventConnected:
		w.connected.Store(true)
	case pq.ListenerEventConnectionAttemptFailed:
		if !w.connected.Load() {
			select {
			case w.firstErr <- err:
			default:
			}
			return
		}
		w.log.Warn("postgres: policy watcher: reconnecting failed", "channel", w.channel, "err", redact(sanitize(err), w.dsn))
	case pq.ListenerEventDisconnected:
		w.log.Warn("postgres: policy watcher: connection lost", "channel", w.channel, "err", redact(sanitize(err), w.dsn))
	case pq.ListenerEventReconnected:
		w.log.Info("postgres: policy watcher: reconnected; subscribers reload", "channel", w.channel)
	}
}

// dispatch calls the subscribers for each notification (the listener
// sends nil after reconnecting), in order, until the listener closes its
// channel.
func (w *PolicyWatcher) dispatch() {
	defer w.wg.Done()
	for n := range w.l.Notify {
		payload := payloadOf(n)
		w.mu.Lock()
		subs := slices.Clone(w.subs)
		w.mu.Unlock()
		for _, s := range subs {
			s.fn(payload)
		}
	}
}

func payloadOf(n *pq.Notification) string {
	if n == nil {
		return reconnectPayload
	}
	return n.Extra
}

// ping pings the connection every interval until Close.
func (w *PolicyWatcher) ping(interval time.Duration) {
	defer w.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			if err := w.l.Ping(); err != nil && !errors.Is(err, net.ErrClosed) {
				w.log.Warn("postgres: policy watcher: ping failed", "channel", w.channel, "err", redact(sanitize(err), w.dsn))
			}
		}
	}
}

// Subscribe implements [rbac.Watcher]: changed is called after each
// notification on the watcher's channel and after each reconnection,
// until cancel or Close is called. A call that has begun then may still
// run. On a closed watcher, Subscribe does nothing.
func (w *PolicyWatcher) Subscribe(changed func()) (cancel func()) {
	return w.subscribe(func(string) { changed() })
}

func (w *PolicyWatcher) subscribe(fn func(payload string)) (cancel func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return func() {}
	}
	w.lastSub++
	id := w.lastSub
	w.subs = append(w.subs, watchSub{id: id, fn: fn})
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.subs = slices.DeleteFunc(w.subs, func(s watchSub) bool { return s.id == id })
	}
}

// Notify sends a notification on the watcher's channel, which every
// watcher on it (this one included) passes on to its subscribers: for
// rules changed by other means than a [RuleStore] (SQL, another
// adapter). It goes through WatcherConfig.DB, or through a connection
// opened for the call on the watcher's connection string.
func (w *PolicyWatcher) Notify(ctx context.Context) error {
	db := w.db
	if db == nil {
		c, err := pq.NewConnector(w.dsn)
		if err != nil {
			return fmt.Errorf("postgres: policy watcher: notify: %w", redact(err, w.dsn))
		}
		db = sql.OpenDB(c)
		defer db.Close()
	}
	if _, err := db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, w.channel, notifyPayload); err != nil {
		return fmt.Errorf("postgres: policy watcher: notify: %w", redact(translate(ctx, err), w.dsn))
	}
	return nil
}

// Close stops listening, closes the connection and waits for the
// watcher's goroutines to end (the listener's included, which may first
// finish a connection attempt or a wait between attempts). No subscriber
// is called once Close returns. Closing again returns nil.
func (w *PolicyWatcher) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed, w.subs = true, nil
		w.mu.Unlock()
		close(w.stop)
		if err := w.l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			w.closeErr = fmt.Errorf("postgres: policy watcher: close: %w", err)
		}
		w.wg.Wait()
	})
	return w.closeErr
}

// casbinUpdateTimeout bounds [CasbinWatcher.Update], which Casbin calls
// without a context.
const casbinUpdateTimeout = 10 * time.Second

// CasbinWatcher is a [PolicyWatcher] as Casbin's persist.Watcher
// (enforcer.SetWatcher(w.Casbin())): Casbin's callback is a subscriber
// that receives each notification's payload, a small JSON document
// ({"op":"add","rules":2}; {"op":"reconnect"} after a reconnection), and
// Update sends a notification. Close removes the callback and leaves the
// PolicyWatcher open: its owner closes it.
type CasbinWatcher struct {
	w      *PolicyWatcher
	mu     sync.Mutex
	cancel func()
}

// Casbin returns w as Casbin's persist.Watcher.
func (w *PolicyWatcher) Casbin() *CasbinWatcher { return &CasbinWatcher{w: w} }

// SetUpdateCallback makes fn the callback, replacing the previous one;
// Casbin passes one that reloads the policy. It is an error on a closed
// PolicyWatcher.
func (c *CasbinWatcher) SetUpdateCallback(fn func(string)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	if fn == nil {
		return nil
	}
	c.w.mu.Lock()
	closed := c.w.closed
	c.w.mu.Unlock()
	if closed {
		return errors.New("postgres: policy watcher: closed")
	}
	c.cancel = c.w.subscribe(fn)
	return nil
}

// Update sends a notification, as [PolicyWatcher.Notify] with a timeout
// of 10 seconds. Casbin calls it after each change it saves through its
// adapter; a change made through a [RuleStore] has notified already, so
// this one only repeats the signal.
func (c *CasbinWatcher) Update() error {
	ctx, cancel := context.WithTimeout(context.Background(), casbinUpdateTimeout)
	defer cancel()
	return c.w.Notify(ctx)
}

// Close removes the callback.
func (c *CasbinWatcher) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
}
