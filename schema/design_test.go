package schema_test

import (
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
)

// The schema the original system used, table by table, written
// the way PostgreSQL reports it back. Defaults are pg_get_expr output, so
// DEFAULT 'USER' reads 'USER'::character varying and SERIAL reads
// nextval('<table>_id_seq'::regclass).

type column struct {
	name     string
	dataType string // information_schema.columns.data_type
	length   int    // character_maximum_length; 0 when the type has none
	def      string // column_default; "" for no default
	nullable bool
}

type index struct {
	name    string
	unique  bool
	columns string // comma separated, in index order
}

type table struct {
	name        string
	columns     []column // in the document's order
	constraints map[string]string
	indexes     []index // every index, including those behind PRIMARY KEY and UNIQUE
}

const (
	tInt   = "integer"
	tVar   = "character varying"
	tChar  = "character"
	tBool  = "boolean"
	tTS    = "timestamp with time zone"
	tJSON  = "jsonb"
	tInet  = "inet"
	tText  = "text"
	dNow   = "now()"
	dTrue  = "true"
	dFalse = "false"
	dJSON  = "'{}'::jsonb"
)

func serial(tbl string) column {
	return column{"id", tInt, 0, "nextval('" + tbl + "_id_seq'::regclass)", false}
}

var design = []table{
	{
		name: "users",
		columns: []column{
			serial("users"),
			{"username", tVar, 50, "", false},
			{"email", tVar, 254, "", false},
			{"hashed_password", tVar, 255, "", false},
			{"is_active", tBool, 0, dTrue, true},
			{"is_verified", tBool, 0, dFalse, true},
			{"role", tVar, 20, "'USER'::character varying", true},
			{"tier", tVar, 20, "'FREE'::character varying", true},
			{"created_at", tTS, 0, dNow, true},
			{"updated_at", tTS, 0, dNow, true},
			{"last_login_at", tTS, 0, "", true},
			{"failed_login_attempts", tInt, 0, "0", true},
			{"locked_until", tTS, 0, "", true},
			{"password_changed_at", tTS, 0, dNow, true},
			{"email_verified_at", tTS, 0, "", true},
			{"profile_data", tJSON, 0, "", true},
			{"preferences", tJSON, 0, dJSON, true},
			{"metadata", tJSON, 0, dJSON, true},
		},
		constraints: map[string]string{
			"users_pkey":         "PRIMARY KEY (id)",
			"users_username_key": "UNIQUE (username)",
			"users_email_key":    "UNIQUE (email)",
		},
		indexes: []index{
			{"users_pkey", true, "id"},
			{"users_username_key", true, "username"}, // serves idx_users_username
			{"users_email_key", true, "email"},       // serves idx_users_email
			{"idx_users_role", false, "role"},
			{"idx_users_tier", false, "tier"},
			{"idx_users_is_active", false, "is_active"},
			{"idx_users_created_at", false, "created_at"},
		},
	},
	{
		name: "oauth_profiles",
		columns: []column{
			serial("oauth_profiles"),
			{"user_id", tInt, 0, "", false},
			{"provider", tVar, 50, "", false},
			{"provider_user_id", tVar, 255, "", false},
			{"access_token", tText, 0, "", true},
			{"refresh_token", tText, 0, "", true},
			{"token_expires_at", tTS, 0, "", true},
			{"user_info", tJSON, 0, "", true},
			{"created_at", tTS, 0, dNow, true},
			{"updated_at", tTS, 0, dNow, true},
		},
		constraints: map[string]string{
			"oauth_profiles_pkey":                          "PRIMARY KEY (id)",
			"oauth_profiles_user_id_fkey":                  "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
			"oauth_profiles_provider_provider_user_id_key": "UNIQUE (provider, provider_user_id)",
			"oauth_profiles_user_id_provider_key":          "UNIQUE (user_id, provider)",
		},
		indexes: []index{
			{"oauth_profiles_pkey", true, "id"},
			{"oauth_profiles_provider_provider_user_id_key", true, "provider,provider_user_id"}, // serves idx_oauth_profiles_provider
			{"oauth_profiles_user_id_provider_key", true, "user_id,provider"},                   // serves idx_oauth_profiles_user_id
			{"idx_oauth_profiles_provider_user_id", false, "provider_user_id"},
		},
	},
	{
		name: "sessions",
		columns: []column{
			serial("sessions"),
			{"user_id", tInt, 0, "", false},
			{"session_token", tVar, 255, "", false},
			{"refresh_token", tVar, 255, "", false},
			{"is_active", tBool, 0, dTrue, true},
			{"created_at", tTS, 0, dNow, true},
			{"expires_at", tTS, 0, "", false},
			{"last_activity_at", tTS, 0, dNow, true},
			{"client_ip", tInet, 0, "", true},
			{"user_agent", tText, 0, "", true},
			{"device_info", tJSON, 0, "", true},
			{"security_context", tJSON, 0, dJSON, true},
		},
		constraints: map[string]string{
			"sessions_pkey":              "PRIMARY KEY (id)",
			"sessions_user_id_fkey":      "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
			"sessions_session_token_key": "UNIQUE (session_token)",
			"sessions_refresh_token_key": "UNIQUE (refresh_token)",
		},
		indexes: []index{
			{"sessions_pkey", true, "id"},
			{"sessions_session_token_key", true, "session_token"}, // serves idx_sessions_session_token
			{"sessions_refresh_token_key", true, "refresh_token"}, // serves idx_sessions_refresh_token
			{"idx_sessions_user_id", false, "user_id"},
			{"idx_sessions_is_active", false, "is_active"},
			{"idx_sessions_expires_at", false, "expires_at"},
		},
	},
	{
		name: "password_reset_tokens",
		columns: []column{
			serial("password_reset_tokens"),
			{"user_id", tInt, 0, "", false},
			{"token_hash", tVar, 255, "", false},
			{"is_used", tBool, 0, dFalse, true},
			{"created_at", tTS, 0, dNow, true},
			{"expires_at", tTS, 0, "", false},
			{"used_at", tTS, 0, "", true},
			{"client_ip", tInet, 0, "", true},
			{"user_agent", tText, 0, "", true},
			{"security_context", tJSON, 0, dJSON, true},
		},
		constraints: map[string]string{
			"password_reset_tokens_pkey":           "PRIMARY KEY (id)",
			"password_reset_tokens_user_id_fkey":   "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
			"password_reset_tokens_token_hash_key": "UNIQUE (token_hash)",
		},
		indexes: []index{
			{"password_reset_tokens_pkey", true, "id"},
			{"password_reset_tokens_token_hash_key", true, "token_hash"}, // serves idx_password_reset_tokens_token_hash
			{"idx_password_reset_tokens_user_id", false, "user_id"},
			{"idx_password_reset_tokens_is_used", false, "is_used"},
			{"idx_password_reset_tokens_expires_at", false, "expires_at"},
		},
	},
	{
		name: "casbin_rules",
		columns: []column{
			serial("casbin_rules"),
			{"ptype", tVar, 10, "", false},
			{"v0", tVar, 256, "", true},
			{"v1", tVar, 256, "", true},
			{"v2", tVar, 256, "", true},
			{"v3", tVar, 256, "", true},
			{"v4", tVar, 256, "", true},
			{"v5", tVar, 256, "", true},
			{"created_at", tTS, 0, dNow, true},
			{"updated_at", tTS, 0, dNow, true},
			{"created_by", tVar, 100, "", true},
			{"updated_by", tVar, 100, "", true},
			{"is_active", tBool, 0, dTrue, true},
		},
		constraints: map[string]string{
			"casbin_rules_pkey": "PRIMARY KEY (id)",
		},
		indexes: []index{
			{"casbin_rules_pkey", true, "id"},
			{"idx_casbin_rules_ptype", false, "ptype"},
			{"idx_casbin_rules_v0", false, "v0"},
			{"idx_casbin_rules_v1", false, "v1"},
			{"idx_casbin_rules_is_active", false, "is_active"},
		},
	},
	{
		name: "audit_logs",
		columns: []column{
			serial("audit_logs"),
			{"user_id", tInt, 0, "", true},
			{"event_type", tVar, 100, "", false},
			{"event_data", tJSON, 0, "", false},
			{"client_ip", tInet, 0, "", true},
			{"user_agent", tText, 0, "", true},
			{"correlation_id", tVar, 100, "", true},
			{"created_at", tTS, 0, dNow, true},
			{"severity", tVar, 20, "'INFO'::character varying", true},
			{"source", tVar, 100, "", true},
			{"metadata", tJSON, 0, dJSON, true},
		},
		constraints: map[string]string{
			"audit_logs_pkey":         "PRIMARY KEY (id)",
			"audit_logs_user_id_fkey": "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL",
		},
		indexes: []index{
			{"audit_logs_pkey", true, "id"},
			{"idx_audit_logs_user_id", false, "user_id"},
			{"idx_audit_logs_event_type", false, "event_type"},
			{"idx_audit_logs_created_at", false, "created_at"},
			{"idx_audit_logs_correlation_id", false, "correlation_id"},
			{"idx_audit_logs_severity", false, "severity"},
		},
	},
	{
		name: "rate_limit_records",
		columns: []column{
			serial("rate_limit_records"),
			{"key_hash", tVar, 255, "", false},
			{"algorithm", tVar, 50, "", false},
			{"window_start", tTS, 0, "", false},
			{"window_end", tTS, 0, "", false},
			{"request_count", tInt, 0, "1", true},
			{"limit_value", tInt, 0, "", false},
			{"metadata", tJSON, 0, dJSON, true},
			{"created_at", tTS, 0, dNow, true},
			{"updated_at", tTS, 0, dNow, true},
		},
		constraints: map[string]string{
			"rate_limit_records_pkey":                                "PRIMARY KEY (id)",
			"rate_limit_records_key_hash_algorithm_window_start_key": "UNIQUE (key_hash, algorithm, window_start)",
		},
		indexes: []index{
			{"rate_limit_records_pkey", true, "id"},
			{"rate_limit_records_key_hash_algorithm_window_start_key", true, "key_hash,algorithm,window_start"}, // serves idx_rate_limit_records_key_hash
			{"idx_rate_limit_records_algorithm", false, "algorithm"},
			{"idx_rate_limit_records_window_start", false, "window_start"},
			{"idx_rate_limit_records_window_end", false, "window_end"},
		},
	},
}

// documentIndexes lists every CREATE INDEX of the original schema and the
// index of the migrated schema that answers its lookups: the index itself,
// or the unique index that makes it redundant.
var documentIndexes = []struct {
	doc, table, columns, servedBy string
}{
	{"idx_users_username", "users", "username", "users_username_key"},
	{"idx_users_email", "users", "email", "users_email_key"},
	{"idx_users_role", "users", "role", ""},
	{"idx_users_tier", "users", "tier", ""},
	{"idx_users_is_active", "users", "is_active", ""},
	{"idx_users_created_at", "users", "created_at", ""},
	{"idx_oauth_profiles_user_id", "oauth_profiles", "user_id", "oauth_profiles_user_id_provider_key"},
	{"idx_oauth_profiles_provider", "oauth_profiles", "provider", "oauth_profiles_provider_provider_user_id_key"},
	{"idx_oauth_profiles_provider_user_id", "oauth_profiles", "provider_user_id", ""},
	{"idx_sessions_user_id", "sessions", "user_id", ""},
	{"idx_sessions_session_token", "sessions", "session_token", "sessions_session_token_key"},
	{"idx_sessions_refresh_token", "sessions", "refresh_token", "sessions_refresh_token_key"},
	{"idx_sessions_is_active", "sessions", "is_active", ""},
	{"idx_sessions_expires_at", "sessions", "expires_at", ""},
	{"idx_password_reset_tokens_user_id", "password_reset_tokens", "user_id", ""},
	{"idx_password_reset_tokens_token_hash", "password_reset_tokens", "token_hash", "password_reset_tokens_token_hash_key"},
	{"idx_password_reset_tokens_is_used", "password_reset_tokens", "is_used", ""},
	{"idx_password_reset_tokens_expires_at", "password_reset_tokens", "expires_at", ""},
	{"idx_casbin_rules_ptype", "casbin_rules", "ptype", ""},
	{"idx_casbin_rules_v0", "casbin_rules", "v0", ""},
	{"idx_casbin_rules_v1", "casbin_rules", "v1", ""},
	{"idx_casbin_rules_is_active", "casbin_rules", "is_active", ""},
	{"idx_audit_logs_user_id", "audit_logs", "user_id", ""},
	{"idx_audit_logs_event_type", "audit_logs", "event_type", ""},
	{"idx_audit_logs_created_at", "audit_logs", "created_at", ""},
	{"idx_audit_logs_correlation_id", "audit_logs", "correlation_id", ""},
	{"idx_audit_logs_severity", "audit_logs", "severity", ""},
	{"idx_rate_limit_records_key_hash", "rate_limit_records", "key_hash", "rate_limit_records_key_hash_algorithm_window_start_key"},
	{"idx_rate_limit_records_algorithm", "rate_limit_records", "algorithm", ""},
	{"idx_rate_limit_records_window_start", "rate_limit_records", "window_start", ""},
	{"idx_rate_limit_records_window_end", "rate_limit_records", "window_end", ""},
}

// TestDesignConformance checks version 1, the original system's schema.
// Later migrations add to it; their own tests check what they add.
func TestDesignConformance(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("postgres", pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := schema.MigrateTo(t.Context(), db, 1); err != nil {
		t.Fatal(err)
	}
	checkSchema(t, db, schemaAt(1))
}

// queryRows runs q and calls scan for every row.
func queryRows(t *testing.T, db *sql.DB, q string, scan func(*sql.Rows) error, args ...any) {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// checkDesign compares the current schema of db with the expected schema
// at the latest version (the design table plus what later migrations
// add), item by item: tables, columns, constraints, indexes and sequences.
func checkDesign(t *testing.T, db *sql.DB) {
	t.Helper()
	checkSchema(t, db, schemaAt(schema.Latest()))
}

// schemaAt returns the expected schema after migration version v: the
// original schema's tables (version 1) with the additions of every later
// migration up to v.
func schemaAt(v int64) []table {
	out := slices.Clone(design)
	for i := range out {
		out[i].columns = slices.Clone(out[i].columns)
		out[i].indexes = slices.Clone(out[i].indexes)
		out[i].constraints = maps.Clone(out[i].constraints)
	}
	for version := int64(2); version <= v; version++ {
		out = additions[version](out)
	}
	return out
}

// additions are what each migration after the first adds.
var additions = map[int64]func([]table) []table{
	// 00002_audit_chain: the tamper-evidence columns, a user's events
	// newest first, and the chain's start and end.
	2: func(ts []table) []table {
		for i := range ts {
			if ts[i].name != "audit_logs" {
				continue
			}
			ts[i].columns = append(ts[i].columns,
				column{"chain_seq", "bigint", 0, "", true},
				column{"actor_id", "bigint", 0, "", true},
				column{"prev_hash", tVar, 64, "", true},
				column{"hash", tVar, 64, "", true},
			)
			ts[i].indexes = append(ts[i].indexes,
				index{"audit_logs_chain_seq_key", true, "chain_seq"},
				index{"idx_audit_logs_user_created", false, "user_id,created_at DESC,id DESC"},
			)
		}
		return append(ts, table{
			name: "audit_chain",
			columns: []column{
				{"id", "smallint", 0, "1", false},
				{"start_seq", "bigint", 0, "", false},
				{"start_hash", tVar, 64, "", false},
				{"end_seq", "bigint", 0, "", false},
				{"end_hash", tVar, 64, "", false},
			},
			constraints: map[string]string{
				"audit_chain_pkey":       "PRIMARY KEY (id)",
				"audit_chain_single_row": "CHECK ((id = 1))",
			},
			indexes: []index{{"audit_chain_pkey", true, "id"}},
		})
	},
}

func init() {
	// 00003_session_rotation: the rotated refresh tokens, and indexes for
	// a user's sessions and for cleanup.
	additions[3] = func(ts []table) []table {
		for i := range ts {
			if ts[i].name == "sessions" {
				ts[i].indexes = append(ts[i].indexes,
					index{"idx_sessions_user_activity", false, "user_id,last_activity_at DESC"},
					index{"idx_sessions_last_activity_at", false, "last_activity_at"},
				)
			}
		}
		return append(ts, table{
			name: "session_refresh_history",
			columns: []column{
				{"token_hash", tVar, 255, "", false},
				{"session_id", tInt, 0, "", false},
				{"rotated_at", tTS, 0, dNow, false},
			},
			constraints: map[string]string{
				"session_refresh_history_pkey":            "PRIMARY KEY (token_hash)",
				"session_refresh_history_session_id_fkey": "FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE",
			},
			indexes: []index{
				{"session_refresh_history_pkey", true, "token_hash"},
				{"idx_session_refresh_history_session_id", false, "session_id"},
			},
		})
	}
}

func init() {
	// 00004_security_stamp: the users' and sessions' security stamps, and
	// the partial index for ended sessions.
	additions[4] = func(ts []table) []table {
		for i := range ts {
			switch ts[i].name {
			case "users":
				ts[i].columns = append(ts[i].columns, column{"security_stamp", "bigint", 0, "0", false})
			case "sessions":
				ts[i].columns = append(ts[i].columns, column{"security_stamp", "bigint", 0, "0", false})
				// A partial index: its predicate follows the column list.
				ts[i].indexes = append(ts[i].indexes, index{"idx_sessions_inactive", false, "id) WHERE (is_active IS NOT TRUE"})
			}
		}
		return ts
	}
}

func init() {
	// 00005_audit_key_fingerprint: the fingerprint of the chain's key,
	// NULL (unknown) for a chain sealed before it.
	additions[5] = func(ts []table) []table {
		for i := range ts {
			if ts[i].name == "audit_chain" {
				ts[i].columns = append(ts[i].columns, column{"key_fingerprint", tVar, 32, "", true})
			}
		}
		return ts
	}
}

func init() {
	// 00006_email_verification: the email verification tokens, deleted
	// with their user; the unique token_hash serves lookups by hash.
	additions[6] = func(ts []table) []table {
		return append(ts, table{
			name: "email_verification_tokens",
			columns: []column{
				serial("email_verification_tokens"),
				{"user_id", tInt, 0, "", false},
				{"email", tVar, 254, "", false},
				{"token_hash", tVar, 64, "", false},
				{"created_at", tTS, 0, dNow, false},
				{"expires_at", tTS, 0, "", false},
				{"used_at", tTS, 0, "", true},
			},
			constraints: map[string]string{
				"email_verification_tokens_pkey":           "PRIMARY KEY (id)",
				"email_verification_tokens_user_id_fkey":   "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
				"email_verification_tokens_token_hash_key": "UNIQUE (token_hash)",
			},
			indexes: []index{
				{"email_verification_tokens_pkey", true, "id"},
				{"email_verification_tokens_token_hash_key", true, "token_hash"},
				{"idx_email_verification_tokens_user_id", false, "user_id"},
				{"idx_email_verification_tokens_expires_at", false, "expires_at"},
			},
		})
	}
}

func init() {
	// 00007_rate_limit_state: a sliding window's admitted times and a
	// token bucket's level, both nullable without a default so that rows
	// of the original system still insert; no new index.
	additions[7] = func(ts []table) []table {
		for i := range ts {
			if ts[i].name == "rate_limit_records" {
				ts[i].columns = append(ts[i].columns,
					column{"hits", "ARRAY", 0, "", true},
					column{"level", "bigint", 0, "", true},
				)
			}
		}
		return ts
	}
	// 00008_rate_limit_indexes: the indexes on algorithm and window_start,
	// which narrow no lookup, are dropped.
	additions[8] = func(ts []table) []table {
		for i := range ts {
			if ts[i].name == "rate_limit_records" {
				ts[i].indexes = slices.DeleteFunc(slices.Clone(ts[i].indexes), func(x index) bool {
					return x.name == "idx_rate_limit_records_algorithm" || x.name == "idx_rate_limit_records_window_start"
				})
			}
		}
		return ts
	}
}

func init() {
	// 00009_oauth_states: the spent OAuth flow states, by hash, with the
	// index the cleanup walks; no user, so no foreign key and no SERIAL.
	additions[9] = func(ts []table) []table {
		return append(ts, table{
			name: "oauth_spent_states",
			columns: []column{
				{"state_hash", tChar, 64, "", false},
				{"expires_at", tTS, 0, "", false},
			},
			constraints: map[string]string{
				"oauth_spent_states_pkey": "PRIMARY KEY (state_hash)",
			},
			indexes: []index{
				{"oauth_spent_states_pkey", true, "state_hash"},
				{"idx_oauth_spent_states_expires_at", false, "expires_at"},
			},
		})
	}
}

func init() {
	// 00010_adoption: the record of an adoption, a single row; empty on a
	// schema that migrate up created.
	additions[10] = func(ts []table) []table {
		return append(ts, table{
			name: "cedrina_adoption",
			columns: []column{
				{"id", "smallint", 0, "1", false},
				{"adopted_at", tTS, 0, dNow, false},
				{"alembic_head", tVar, 255, "", true},
				{"sessions_ended", "bigint", 0, "0", false},
				{"reset_tokens_removed", "bigint", 0, "0", false},
				{"tokens_converted", "bigint", 0, "0", false},
			},
			constraints: map[string]string{
				"cedrina_adoption_pkey":       "PRIMARY KEY (id)",
				"cedrina_adoption_single_row": "CHECK ((id = 1))",
			},
			indexes: []index{{"cedrina_adoption_pkey", true, "id"}},
		})
	}
}

// checkSchema compares the current schema of db with want.
func checkSchema(t *testing.T, db *sql.DB, want []table) {
	t.Helper()
	var nsp string
	if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&nsp); err != nil {
		t.Fatal(err)
	}
	// Catalog functions qualify names outside the search_path; strip the
	// test schema so the expectations read like the migration.
	unqualify := func(s string) string { return strings.ReplaceAll(s, nsp+".", "") }

	// Tables: exactly the expected ones, plus the migrator's version table.
	wantTables := []string{schema.VersionTable}
	for _, tb := range want {
		wantTables = append(wantTables, tb.name)
	}
	slices.Sort(wantTables)
	if got := tables(t, db); !slices.Equal(got, wantTables) {
		t.Errorf("tables = %v, want %v", got, wantTables)
	}

	for _, tb := range want {
		// Columns.
		var got []column
		queryRows(t, db, `
			SELECT column_name, data_type, coalesce(character_maximum_length, 0),
			       coalesce(column_default, ''), is_nullable = 'YES'
			FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1
			ORDER BY ordinal_position`,
			func(r *sql.Rows) error {
				var c column
				if err := r.Scan(&c.name, &c.dataType, &c.length, &c.def, &c.nullable); err != nil {
					return err
				}
				c.def = unqualify(c.def)
				got = append(got, c)
				return nil
			}, tb.name)
		gotByName := map[string]column{}
		for _, c := range got {
			gotByName[c.name] = c
		}
		for i, w := range tb.columns {
			g, ok := gotByName[w.name]
			if !ok {
				t.Errorf("%s.%s: column missing", tb.name, w.name)
				continue
			}
			if g.dataType != w.dataType {
				t.Errorf("%s.%s: type = %s, want %s", tb.name, w.name, g.dataType, w.dataType)
			}
			if g.length != w.length {
				t.Errorf("%s.%s: character length = %d, want %d", tb.name, w.name, g.length, w.length)
			}
			if g.def != w.def {
				t.Errorf("%s.%s: default = %q, want %q", tb.name, w.name, g.def, w.def)
			}
			if g.nullable != w.nullable {
				t.Errorf("%s.%s: nullable = %v, want %v", tb.name, w.name, g.nullable, w.nullable)
			}
			if i < len(got) && got[i].name != w.name {
				t.Errorf("%s: column %d is %s, want %s (document order)", tb.name, i+1, got[i].name, w.name)
			}
		}
		for _, g := range got {
			if !slices.ContainsFunc(tb.columns, func(w column) bool { return w.name == g.name }) {
				t.Errorf("%s.%s: column not in the original schema", tb.name, g.name)
			}
		}

		// Constraints: primary, unique, foreign keys (with delete rule), and
		// no others (no CHECK the original system would trip over).
		gotCons := map[string]string{}
		queryRows(t, db, `
			SELECT c.conname, pg_get_constraintdef(c.oid)
			FROM pg_constraint c
			JOIN pg_class r ON r.oid = c.conrelid
			JOIN pg_namespace n ON n.oid = r.relnamespace
			WHERE n.nspname = current_schema() AND r.relname = $1`,
			func(r *sql.Rows) error {
				var name, def string
				if err := r.Scan(&name, &def); err != nil {
					return err
				}
				gotCons[name] = unqualify(def)
				return nil
			}, tb.name)
		for _, name := range slices.Sorted(maps.Keys(tb.constraints)) {
			want := tb.constraints[name]
			if g, ok := gotCons[name]; !ok {
				t.Errorf("%s: constraint %s missing (want %s)", tb.name, name, want)
			} else if g != want {
				t.Errorf("%s: constraint %s = %s, want %s", tb.name, name, g, want)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(gotCons)) {
			if _, ok := tb.constraints[name]; !ok {
				t.Errorf("%s: unexpected constraint %s: %s", tb.name, name, gotCons[name])
			}
		}

		// Indexes, compared as PostgreSQL prints them: name, uniqueness,
		// method, columns, and no predicate.
		gotIdx := map[string]string{}
		queryRows(t, db, `
			SELECT indexname, indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename = $1`,
			func(r *sql.Rows) error {
				var name, def string
				if err := r.Scan(&name, &def); err != nil {
					return err
				}
				gotIdx[name] = unqualify(def)
				return nil
			}, tb.name)
		wantIdx := map[string]string{}
		for _, ix := range tb.indexes {
			u := ""
			if ix.unique {
				u = "UNIQUE "
			}
			wantIdx[ix.name] = fmt.Sprintf("CREATE %sINDEX %s ON %s USING btree (%s)",
				u, ix.name, tb.name, strings.ReplaceAll(ix.columns, ",", ", "))
		}
		for _, name := range slices.Sorted(maps.Keys(wantIdx)) {
			if g, ok := gotIdx[name]; !ok {
				t.Errorf("%s: index %s missing", tb.name, name)
			} else if g != wantIdx[name] {
				t.Errorf("%s: index %s = %s, want %s", tb.name, name, g, wantIdx[name])
			}
		}
		for _, name := range slices.Sorted(maps.Keys(gotIdx)) {
			if _, ok := wantIdx[name]; !ok {
				t.Errorf("%s: unexpected index %s", tb.name, gotIdx[name])
			}
		}
	}

	// SERIAL: one integer sequence per table, owned by its id column.
	gotSeq := map[string]string{}
	queryRows(t, db, `
		SELECT s.sequencename, s.data_type::text, coalesce(d.refobjsubid, 0)
		FROM pg_sequences s
		JOIN pg_class c ON c.relname = s.sequencename
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
		LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'a' AND d.classid = 'pg_class'::regclass
		WHERE s.schemaname = current_schema()`,
		func(r *sql.Rows) error {
			var name, typ string
			var owner int
			if err := r.Scan(&name, &typ, &owner); err != nil {
				return err
			}
			gotSeq[name] = fmt.Sprintf("%s owned=%v", typ, owner == 1)
			return nil
		})
	for _, tb := range want {
		if !slices.ContainsFunc(tb.columns, func(c column) bool { return c == serial(tb.name) }) {
			continue // no SERIAL id
		}
		seq := tb.name + "_id_seq"
		if g := gotSeq[seq]; g != "integer owned=true" {
			t.Errorf("%s: sequence %s = %q, want an integer sequence owned by %s.id", tb.name, seq, g, tb.name)
		}
	}
}

// droppedIndexes are indexes of the original schema that a later
// migration drops, by the migration that does.
var droppedIndexes = map[string]string{
	// Neither narrows a lookup (three algorithms; one window_start for
	// every key counting in a window), and both led the planner away from
	// the unique index of a rate limit check.
	"idx_rate_limit_records_algorithm":    "00008_rate_limit_indexes",
	"idx_rate_limit_records_window_start": "00008_rate_limit_indexes",
}

// TestDocumentIndexes checks every index the original schema declares:
// either it exists under its own name on the right column, or the unique
// index that replaces it exists and leads with that column, or a later
// migration dropped it (droppedIndexes) and it is gone.
func TestDocumentIndexes(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	type idx struct {
		table   string
		columns []string
	}
	got := map[string]idx{}
	rows, err := db.QueryContext(t.Context(), `
		SELECT i.relname, r.relname, array_agg(a.attname::text ORDER BY k.ord)
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class r ON r.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = r.relnamespace
		CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum
		WHERE n.nspname = current_schema()
		GROUP BY i.relname, r.relname`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var ix idx
		if err := rows.Scan(&name, &ix.table, (*pq.StringArray)(&ix.columns)); err != nil {
			t.Fatal(err)
		}
		got[name] = ix
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	if len(documentIndexes) != 31 {
		t.Fatalf("documentIndexes lists %d indexes; the original schema declares 31", len(documentIndexes))
	}
	for _, d := range documentIndexes {
		if m, ok := droppedIndexes[d.doc]; ok {
			if _, exists := got[d.doc]; exists {
				t.Errorf("%s: still exists; %s drops it", d.doc, m)
			}
			continue
		}
		name := d.doc
		if d.servedBy != "" {
			name = d.servedBy
			if _, dup := got[d.doc]; dup {
				t.Errorf("%s: created, but %s already serves its lookups", d.doc, d.servedBy)
			}
		}
		ix, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: index %s does not exist", d.doc, name)
		case ix.table != d.table:
			t.Errorf("%s: index %s is on %s, want %s", d.doc, name, ix.table, d.table)
		case len(ix.columns) == 0 || ix.columns[0] != d.columns:
			t.Errorf("%s: index %s covers %v, want leading column %s", d.doc, name, ix.columns, d.columns)
		}
	}
}
