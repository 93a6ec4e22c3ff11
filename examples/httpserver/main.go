package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// Server limits. Hashing a password takes tens of milliseconds and may
// wait for a free hashing slot under load, which the write and handler
// timeouts leave room for.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 32 << 10
	// handlerTimeout ends a request's context, so a request queued behind
	// a flood of logins gives up (503) instead of piling up.
	handlerTimeout = 10 * time.Second
	// shutdownTimeout is how long in-flight requests get to finish after
	// SIGINT or SIGTERM; then the messages and audit events still queued
	// get as long again.
	shutdownTimeout = 15 * time.Second
	// startupTimeout bounds connecting to PostgreSQL and migrating.
	startupTimeout = 5 * time.Minute
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default behaviour so that a
		// second Ctrl-C kills a shutdown that hangs.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "httpserver:", err)
		os.Exit(1)
	}
}

// errUsage reports bad command-line arguments; the flag set has already
// printed the problem and the usage.
var errUsage = errors.New("usage error")

// options are the settings taken from the command line and environment.
type options struct {
	addr        string
	databaseURL string // empty: in-memory store
	proxies     audit.Proxies
	jwtKeyFile  string // empty: a fresh key per run
	publicURL   string // empty: http:// and the address listened on
	// rateLimit is false with -rate-limit=false: no rate limits at all.
	rateLimit bool
	// loginLimit and registerLimit are the requests per minute per client
	// IP of POST /auth/login and POST /auth/register.
	loginLimit, registerLimit int
	// seedPolicy gives a policy without any active p rule the model can
	// use the default admin policy at start (authhttp.AdminRules); false with
	// -seed-policy=false.
	seedPolicy bool
	// oauthConfig is the --oauth-config file (providers, return_to
	// allowlist, callback mode); empty: no external sign-in. The keys are
	// read from oauthTokenKeysFile and oauthStateKeyFile, or from the
	// environment (loadOAuth), never from a flag's value.
	oauthConfig, oauthTokenKeysFile, oauthStateKeyFile string
	// legacyKeyFile holds the original system's Fernet key, for the
	// password hashes it encrypted; empty: $CEDRINA_LEGACY_KEY, if set
	// (loadLegacyKeys).
	legacyKeyFile string
}

// parseOptions reads the flags in args, with DATABASE_URL from getenv as
// the default database URL. The default is applied after parsing, so that
// -h never prints the URL (and the password it may hold).
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("httpserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`address` to listen on (host:port)")
	fs.StringVar(&o.databaseURL, "database-url", "",
		"PostgreSQL `url` (default $DATABASE_URL; when both are empty, an in-memory store).\n"+
			"Prefer the environment variable: command lines are visible to other local users.")
	var proxies string
	fs.StringVar(&proxies, "trusted-proxies", "",
		"comma-separated `CIDRs` of the reverse proxies in front of the server; only their\n"+
			"X-Forwarded-For is believed for the client IP in audit events (default: none)")
	fs.StringVar(&o.jwtKeyFile, "jwt-key-file", "",
		"PEM `file` with the private key that signs access tokens (Ed25519, P-256 or RSA,\n"+
			"unencrypted PKCS#8, SEC 1 or PKCS#1); default: a fresh Ed25519 key, so tokens\n"+
			"die with the process and several instances cannot share them")
	fs.StringVar(&o.publicURL, "public-url", "",
		"base `URL` of the front end that password reset and email verification links\n"+
			"point at: <url>/reset-password?token=... and <url>/verify-email?token=...\n"+
			"(default http:// and the address the server listens on)")
	fs.BoolVar(&o.rateLimit, "rate-limit", true,
		"rate limit logins, registrations, verification and password reset requests;\n"+
			"-rate-limit=false turns every limit off, for a server behind a proxy that limits")
	fs.IntVar(&o.loginLimit, "login-limit", 30, "POST /auth/login `requests` per minute per client IP")
	fs.IntVar(&o.registerLimit, "register-limit", 20, "POST /auth/register `requests` per minute per client IP")
	fs.BoolVar(&o.seedPolicy, "seed-policy", true,
		"when the authorization policy has no active rule it can use at start, add the default admin\n"+
			"policy, \"p, admin, /admin/*, *\": users whose role is ADMIN may use every /admin/ route")
	fs.StringVar(&o.oauthConfig, "oauth-config", "",
		"JSON `file` of the external identity providers to sign in with (Google, Microsoft,\n"+
			"Facebook, GitHub, OpenID Connect), the return_to allowlist and the callback mode;\n"+
			"default none: no sign-in with external identities")
	fs.StringVar(&o.oauthTokenKeysFile, "oauth-token-keys-file", "",
		"`file` with the keys that seal the providers' tokens at rest, \"id:base64,id2:base64\",\n"+
			"the current key first (default $"+envOAuthTokenKeys+"); required with --oauth-config")
	fs.StringVar(&o.oauthStateKeyFile, "oauth-state-key-file", "",
		"`file` with the base64 of the 32-byte key that seals the sign-in flows' state cookies,\n"+
			"the same on every instance (default $"+envOAuthStateKey+"; without either, a random\n"+
			"key: a flow does not survive a restart or cross instances)")
	fs.StringVar(&o.legacyKeyFile, "legacy-key-file", "",
		"`file` with the original system's Fernet key (its PGCRYPTO_KEY), which opens the password\n"+
			"hashes it encrypted (enc_v1) in a database adopted with `cedrina migrate adopt`\n"+
			"(default $"+envLegacyKey+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errUsage
	}
	if proxies != "" {
		p, err := audit.ParseProxies(strings.Split(proxies, ",")...)
		if err != nil {
			fmt.Fprintf(stderr, "--trusted-proxies: %v\n", err)
			return o, errUsage
		}
		o.proxies = p
	}
	if o.publicURL != "" {
		if err := checkPublicURL(o.publicURL); err != nil {
			fmt.Fprintf(stderr, "--public-url: %v\n", err)
			return o, errUsage
		}
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"login-limit", o.loginLimit}, {"register-limit", o.registerLimit}} {
		if l.n < 1 || l.n > ratelimit.MaxLimit {
			fmt.Fprintf(stderr, "--%s: %d is outside 1..%d\n", l.name, l.n, ratelimit.MaxLimit)
			return o, errUsage
		}
	}
	if o.oauthConfig == "" && (o.oauthTokenKeysFile != "" || o.oauthStateKeyFile != "") {
		fmt.Fprintln(stderr, "--oauth-token-keys-file and --oauth-state-key-file need --oauth-config")
		return o, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return o, errUsage
	}
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "database-url" })
	if !set {
		o.databaseURL = getenv("DATABASE_URL")
	}
	return o, nil
}

// run is the whole program: it parses args, reads the OAuth settings and
// keys (with --oauth-config), opens the store (migrating a PostgreSQL
// database), listens on the address, calls ready with the address it
// listens on (useful with port 0), and serves until ctx is done; then it
// shuts down gracefully, letting in-flight requests finish. Logs go to
// stderr as JSON lines (newLogger). ready may be nil.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(addr string)) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	oc, err := loadOAuth(log, o, getenv)
	if err != nil {
		return err
	}
	legacyKeys, err := loadLegacyKeys(log, o, getenv)
	if err != nil {
		return err
	}
	return serve(ctx, log, o, oc, legacyKeys, ready)
}

// serve opens the stores named by o, builds the app on them with the
// SDK's default settings (and external sign-in with oc, when not nil) and
// serves it; see [run].
func serve(ctx context.Context, log *slog.Logger, o options, oc *oauthSettings, legacyKeys *legacy.Keys, ready func(addr string)) error {
	st, closeStores, err := openStores(ctx, log, o.databaseURL)
	if err != nil {
		return err
	}
	defer closeStores()

	cfg := appConfig{users: user.Config{Logger: log, Legacy: legacyConfig(log, st.adopted, legacyKeys)}, audit: audit.Config{Logger: log}, proxies: o.proxies,
		publicURL: o.publicURL, rateLimit: authhttp.RateLimitConfig{Disabled: !o.rateLimit,
			Login: ratelimit.PerMinute("login", o.loginLimit), Register: ratelimit.PerMinute("register", o.registerLimit)},
		noSeedPolicy: !o.seedPolicy, oauth: oc}
	if o.jwtKeyFile != "" {
		if cfg.sessions.Keys, err = loadKey(log, o.jwtKeyFile); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close() // for the returns before Serve, which closes it
	if cfg.publicURL == "" {
		cfg.publicURL = defaultPublicURL(ln.Addr())
	}
	a, err := newApp(ctx, log, st, cfg)
	if err != nil {
		return err
	}
	defer func() {
		// After the server stopped taking requests: the messages still
		// queued are sent, then every audit event accepted while serving
		// (the reset requests' included) is stored, before exit.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := a.close(cctx); err != nil {
			log.Error("closing the services", "error", err)
		}
	}()

	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// BaseContext stays context.Background: request contexts must not
		// end when ctx does, or shutdown would cut in-flight requests.
	}
	log.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openStores returns the in-memory stores when databaseURL is empty, or
// else the PostgreSQL stores, after applying the schema migrations. The
// library never migrates by itself; an application does it explicitly,
// here at start-up (schema.Migrate takes an advisory lock, so several
// instances starting at once migrate exactly once). The returned func
// closes the database (and, on PostgreSQL, the policy watcher's
// connection); close the Authorizer that follows the watcher first.
func openStores(ctx context.Context, log *slog.Logger, databaseURL string) (stores, func(), error) {
	if databaseURL == "" {
		log.Info("using the in-memory store: data is lost on exit")
		db := memory.New()
		limits, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		if err != nil {
			return stores{}, nil, err
		}
		return stores{tx: db, users: db.Users(), sessions: db.Sessions(), resets: db.Resets(), audit: db.Audit(),
			oauth: db.OAuth(), rateLimits: limits, rules: rbac.NewMemoryStore()}, func() {}, nil
	}
	if err := checkDatabaseURL(databaseURL); err != nil {
		return stores{}, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	db, err := postgres.Open(ctx, databaseURL, postgres.Config{})
	if err != nil {
		return stores{}, nil, err
	}
	if err := schema.Migrate(ctx, db.SQLX().DB); err != nil {
		db.Close()
		return stores{}, nil, err
	}
	adopted, err := schema.Adopted(ctx, db.SQLX().DB)
	if err != nil {
		db.Close()
		return stores{}, nil, err
	}
	limits, err := postgresRateLimits(db)
	if err != nil {
		db.Close()
		return stores{}, nil, err
	}
	// The policy is in casbin_rules, shared by every instance: each change
	// notifies (LISTEN/NOTIFY) and the watcher, listening on a connection
	// of its own before the policy is first loaded, tells this instance's
	// Authorizer to reload.
	watcher, err := postgres.NewPolicyWatcher(databaseURL, postgres.WatcherConfig{DB: db.SQLX().DB, Logger: log})
	if err != nil {
		db.Close()
		return stores{}, nil, fmt.Errorf("listening for policy changes: %w", err)
	}
	log.Info("using PostgreSQL", "schema_version", schema.Latest())
	closeAll := func() {
		if err := watcher.Close(); err != nil {
			log.Error("closing the policy watcher", "error", err)
		}
		db.Close()
	}
	return stores{tx: db, users: db.Users(), sessions: db.Sessions(), resets: db.Resets(), audit: db.Audit(),
		oauth: db.OAuth(), rateLimits: limits, ping: db.Ping, rules: db.Rules(), policyWatcher: watcher, adopted: adopted}, closeAll, nil
}

// loadKey reads the access-token signing key from a PEM file. Its kid is
// the key's RFC 7638 thumbprint, the same on every instance that loads
// the file. Errors name the file, never its content.
func loadKey(log *slog.Logger, path string) (*session.KeySet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--jwt-key-file: %w", err)
	}
	k, err := session.ParsePrivateKeyPEM("", b)
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("--jwt-key-file %s: %w", path, err)
	}
	ks, err := session.NewKeySet(k)
	if err != nil {
		return nil, fmt.Errorf("--jwt-key-file %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the JWT key file is readable by other users; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	log.Info("signing access tokens", "alg", string(k.Algorithm()), "kid", k.ID(), "key_file", path)
	return ks, nil
}

// checkDatabaseURL refuses a URL that lib/pq would reject with an error
// quoting it, password and all: one that does not parse (net/url's errors
// include the whole URL), or whose scheme is not exactly postgres or
// postgresql (lib/pq then parses it as a key=value string and quotes it).
// Its own errors do not quote the URL.
func checkDatabaseURL(s string) error {
	scheme, _, isURL := strings.Cut(s, "://")
	if !isURL {
		return nil // a key=value connection string
	}
	// Compared exactly: url.Parse would accept "POSTGRES", lib/pq does not.
	if scheme != "postgres" && scheme != "postgresql" {
		return errors.New("database URL must start with postgres:// or postgresql://")
	}
	if _, err := url.Parse(s); err != nil {
		return errors.New("database URL does not parse (not shown: it may contain a password)")
	}
	return nil
}

// checkPublicURL accepts the base URL of the front end: http or https,
// with a host, without user info, query or fragment.
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("must be an http:// or https:// URL with a host, without user info, query or fragment")
	}
	return nil
}

// defaultPublicURL is http:// and the address the server listens on, with
// "localhost" for an unspecified host (a server listening on every
// interface).
func defaultPublicURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
