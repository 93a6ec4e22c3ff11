package schema

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/pressly/goose/v3"
)

// This file holds what Adopt compares: the catalog of one schema as
// PostgreSQL reports it, what each embedded migration creates (read from
// a probe schema in which the migrations ran), and the comparison.

// migration is one embedded migration file.
type migration struct {
	version int64
	name    string // file name, e.g. "00001_initial.sql"
	up      string // the statements between "-- +goose Up" and "-- +goose Down"
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(Migrations(), ".")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		v, err := goose.NumericComponent(e.Name())
		if err != nil {
			continue
		}
		b, err := fs.ReadFile(Migrations(), e.Name())
		if err != nil {
			return nil, err
		}
		up, ok := upSection(string(b))
		if !ok {
			return nil, fmt.Errorf("%s: no '-- +goose Up' part followed by a '-- +goose Down' part", e.Name())
		}
		out = append(out, migration{version: v, name: e.Name(), up: up})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	if len(out) == 0 || out[0].version != 1 {
		return nil, fmt.Errorf("no migration 1 among the embedded files")
	}
	return out, nil
}

// upSection returns the Up part of a goose SQL migration: the text
// between its "-- +goose Up" and "-- +goose Down" lines. Every embedded
// migration has exactly one of each and no other annotation (a test
// checks it), so the part is plain SQL that runs as one string.
func upSection(text string) (string, bool) {
	const up, down = "-- +goose Up\n", "\n-- +goose Down\n"
	i := strings.Index(text, up)
	if i < 0 || (i > 0 && text[i-1] != '\n') {
		return "", false
	}
	rest := text[i+len(up):]
	j := strings.Index(rest, down)
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// catalog is what a schema holds, as the catalog functions print it with
// search_path set to that schema alone, so that defaults, foreign keys
// and sequences read unqualified: the same text for the probe schema and
// the adopted one.
type catalog struct {
	relations   map[string]string // every relation by name: its kind ("table", "index", ...)
	types       map[string]bool   // the types that are no relation's row type, by name
	tables      []string          // the tables, in creation (oid) order
	columns     map[string][]colInfo
	constraints map[string]map[string]string // table -> constraint name -> definition
	indexes     map[string]idxInfo           // by index name
}

type colInfo struct {
	name, typ, def string // def: "" for none
	notNull        bool
}

type idxInfo struct {
	name, table string
	def         string // pg_get_indexdef without the schema name
	constraint  bool   // the index of a PRIMARY KEY, UNIQUE or EXCLUDE constraint
}

// relationKinds names pg_class.relkind values.
var relationKinds = map[string]string{
	"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
	"i": "index", "I": "partitioned index", "S": "sequence", "f": "foreign table",
	"c": "composite type", "t": "TOAST table",
}

// inSchema restricts a catalog query to the current schema.
const inSchema = `(SELECT oid FROM pg_namespace WHERE nspname = current_schema())`

// readCatalog reads the current schema's catalog through q: everything
// when full, else only the relations and the columns.
func readCatalog(ctx context.Context, q querier, full bool) (*catalog, error) {
	c := &catalog{
		relations:   map[string]string{},
		types:       map[string]bool{},
		columns:     map[string][]colInfo{},
		constraints: map[string]map[string]string{},
		indexes:     map[string]idxInfo{},
	}
	err := eachRow(ctx, q, `SELECT relname, relkind::text FROM pg_class WHERE relnamespace = `+inSchema+` ORDER BY oid`,
		func(r *sql.Rows) error {
			var name, kind string
			if err := r.Scan(&name, &kind); err != nil {
				return err
			}
			k, ok := relationKinds[kind]
			if !ok {
				k = "relation of kind " + kind
			}
			c.relations[name] = k
			if kind == "r" || kind == "p" {
				c.tables = append(c.tables, name)
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read relations: %w", err)
	}
	if err := readColumns(ctx, q, c); err != nil || !full {
		return c, err
	}
	// A table's row type takes its name: CREATE TABLE fails on a type of
	// that name as on a relation. Array types (typcategory 'A') are
	// renamed out of the way instead.
	err = eachRow(ctx, q, `SELECT typname FROM pg_type WHERE typnamespace = `+inSchema+` AND typrelid = 0 AND typcategory <> 'A'`,
		func(r *sql.Rows) error {
			var name string
			err := r.Scan(&name)
			c.types[name] = true
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("read types: %w", err)
	}
	// Not-null constraints (contype 'n', PostgreSQL 18 and later) are
	// compared as the columns' nullability.
	err = eachRow(ctx, q, `
		SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid
		WHERE t.relnamespace = `+inSchema+` AND c.contype <> 'n'`,
		func(r *sql.Rows) error {
			var table, name, def string
			if err := r.Scan(&table, &name, &def); err != nil {
				return err
			}
			if c.constraints[table] == nil {
				c.constraints[table] = map[string]string{}
			}
			c.constraints[table][name] = def
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read constraints: %w", err)
	}
	err = eachRow(ctx, q, `
		SELECT i.relname, t.relname, pg_get_indexdef(x.indexrelid), quote_ident(i.relname), quote_ident(current_schema()),
		       EXISTS (SELECT 1 FROM pg_constraint c
		               WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x'))
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = `+inSchema,
		func(r *sql.Rows) error {
			var ix idxInfo
			var qname, qschema string
			if err := r.Scan(&ix.name, &ix.table, &ix.def, &qname, &qschema, &ix.constraint); err != nil {
				return err
			}
			ix.def = unqualifyIndexDef(ix.def, qname, qschema)
			c.indexes[ix.name] = ix
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	return c, nil
}

// readColumns reads the columns of the current schema's tables into c.
func readColumns(ctx context.Context, q querier, c *catalog) error {
	err := eachRow(ctx, q, `
		SELECT t.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		       coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text
		FROM pg_attribute a
		JOIN pg_class t ON t.oid = a.attrelid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE t.relnamespace = `+inSchema+` AND t.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY t.relname, a.attnum`,
		func(r *sql.Rows) error {
			var table, identity, generated string
			var col colInfo
			if err := r.Scan(&table, &col.name, &col.typ, &col.notNull, &col.def, &identity, &generated); err != nil {
				return err
			}
			switch {
			case identity == "a":
				col.def = "generated always as identity"
			case identity == "d":
				col.def = "generated by default as identity"
			case generated == "s":
				col.def = "generated always as (" + col.def + ") stored"
			}
			c.columns[table] = append(c.columns[table], col)
			return nil
		})
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	return nil
}

// querier is what the catalog reads need of a *sql.Tx or a *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func eachRow(ctx context.Context, q querier, query string, scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// unqualifyIndexDef removes the schema from the table name of an index
// definition as pg_get_indexdef prints it ("CREATE [UNIQUE] INDEX <name>
// ON [ONLY] <schema>.<table> USING ..."), which it qualifies whatever the
// search_path. qname and qschema are the index and schema names as
// quote_ident prints them. A definition of another shape comes back as
// it is.
func unqualifyIndexDef(def, qname, qschema string) string {
	for _, create := range []string{"CREATE INDEX ", "CREATE UNIQUE INDEX "} {
		head := create + qname + " ON "
		rest, ok := strings.CutPrefix(def, head)
		if !ok {
			continue
		}
		only := ""
		if r, ok := strings.CutPrefix(rest, "ONLY "); ok {
			only, rest = "ONLY ", r
		}
		if r, ok := strings.CutPrefix(rest, qschema+"."); ok {
			return head + only + r
		}
	}
	return def
}

// indexKeys splits an index definition into its access method, its key
// columns or expressions as printed, and whether it has a predicate
// (a partial index). ok is false when def is not of the form
// "... USING <method> (<keys>)[ INCLUDE (...)][ WHERE ...]".
func indexKeys(def string) (method string, keys []string, partial, ok bool) {
	_, rest, found := strings.Cut(def, " USING ")
	if !found {
		return "", nil, false, false
	}
	method, rest, found = strings.Cut(rest, " (")
	if !found || method == "" {
		return "", nil, false, false
	}
	depth, quoted, start := 1, false, 0
	for i := 0; i < len(rest); i++ {
		switch ch := rest[i]; {
		case ch == '"':
			quoted = !quoted
		case quoted:
		case ch == '(':
			depth++
		case ch == ',' && depth == 1:
			keys = append(keys, strings.TrimSpace(rest[start:i]))
			start = i + 1
		case ch == ')':
			depth--
			if depth == 0 {
				keys = append(keys, strings.TrimSpace(rest[start:i]))
				return method, keys, strings.Contains(rest[i:], " WHERE "), true
			}
		}
	}
	return "", nil, false, false
}

// serves reports whether the index defined by server answers every
// lookup the one defined by def does: both B-trees over plain key lists,
// neither partial, def's keys a prefix of server's.
func serves(server, def string) bool {
	m1, k1, p1, ok1 := indexKeys(def)
	m2, k2, p2, ok2 := indexKeys(server)
	if !ok1 || !ok2 || m1 != "btree" || m2 != "btree" || p1 || p2 || len(k1) > len(k2) {
		return false
	}
	return slices.Equal(k1, k2[:len(k1)])
}

// later is what one migration after the first changes, as the probe saw
// it: the relations it creates and drops, the columns it adds.
type later struct {
	name    string
	created map[string]string // relation -> kind
	dropped map[string]bool
	columns map[string]bool // "table.column"
}

func diffCatalogs(name string, before, after *catalog) later {
	l := later{name: name, created: map[string]string{}, dropped: map[string]bool{}, columns: map[string]bool{}}
	for rel, kind := range after.relations {
		if _, ok := before.relations[rel]; !ok {
			l.created[rel] = kind
		}
	}
	for rel := range before.relations {
		if _, ok := after.relations[rel]; !ok {
			l.dropped[rel] = true
		}
	}
	for table, cols := range after.columns {
		had := map[string]bool{}
		for _, c := range before.columns[table] {
			had[c.name] = true
		}
		for _, c := range cols {
			if !had[c.name] {
				l.columns[table+"."+c.name] = true
			}
		}
	}
	return l
}

// originalIndexes are the indexes of the original system's schema that
// migration 1 leaves out because a unique constraint's index answers the
// same lookups (see "Index choices" in the package documentation).
var originalIndexes = map[string]bool{
	"idx_users_username":                   true,
	"idx_users_email":                      true,
	"idx_oauth_profiles_user_id":           true,
	"idx_oauth_profiles_provider":          true,
	"idx_sessions_session_token":           true,
	"idx_sessions_refresh_token":           true,
	"idx_password_reset_tokens_token_hash": true,
	"idx_rate_limit_records_key_hash":      true,
}

// compare fills r's Tables, Conflicts, Indexes and Other from what
// migration 1 creates (want), what the later migrations change (after)
// and what the schema holds (got).
func compare(r *AdoptReport, want, got *catalog, after []later) {
	first := map[string]bool{}
	for _, t := range want.tables {
		first[t] = true
	}
	addedBy := func(col string) string {
		for _, l := range after {
			if l.columns[col] {
				return l.name
			}
		}
		return ""
	}

	for _, table := range want.tables {
		tc := TableCheck{Name: table}
		kind, ok := got.relations[table]
		switch {
		case !ok:
			tc.Differences = append(tc.Differences, "missing table "+table)
		case kind != "table":
			tc.Differences = append(tc.Differences, fmt.Sprintf("%s: a %s, want a table", table, kind))
		default:
			tc.Differences = compareTable(table, want, got, addedBy)
		}
		r.Tables = append(r.Tables, tc)
	}

	// Relations a later migration creates must not exist yet: that
	// migration would fail on them.
	seen := map[string]bool{}
	for _, l := range after {
		for _, rel := range slices.Sorted(maps.Keys(l.created)) {
			kind, ok := got.relations[rel]
			if !ok && got.types[rel] && (l.created[rel] == "table" || l.created[rel] == "view") {
				kind, ok = "type", true
			}
			if !ok || seen[rel] {
				continue
			}
			if _, inFirst := want.relations[rel]; inFirst {
				continue
			}
			seen[rel] = true
			r.Conflicts = append(r.Conflicts, fmt.Sprintf("%s: already exists (%s %s; %s creates %s %s of that name)",
				rel, article(kind), kind, l.name, article(l.created[rel]), l.created[rel]))
		}
	}

	droppedBy := func(rel string) string {
		for _, l := range after {
			if l.dropped[rel] {
				return l.name
			}
		}
		return ""
	}
	createdBy := func(rel string) string {
		for _, l := range after {
			if _, ok := l.created[rel]; ok {
				return l.name
			}
		}
		return ""
	}
	for _, table := range want.tables {
		if got.relations[table] != "table" {
			continue
		}
		var wantIdx, gotIdx []idxInfo
		for _, ix := range want.indexes {
			if ix.table == table && !ix.constraint {
				wantIdx = append(wantIdx, ix)
			}
		}
		for _, ix := range got.indexes {
			if ix.table == table && !ix.constraint {
				gotIdx = append(gotIdx, ix)
			}
		}
		byName := func(a, b idxInfo) int { return strings.Compare(a.name, b.name) }
		slices.SortFunc(wantIdx, byName)
		slices.SortFunc(gotIdx, byName)
		for _, w := range wantIdx {
			ic := IndexCheck{Table: table, Name: w.name}
			g, ok := got.indexes[w.name]
			switch {
			case !ok:
				ic.Status, ic.Definition = IndexMissing, w.def
				switch {
				case droppedBy(w.name) != "":
					ic.Note = droppedBy(w.name) + " drops it anyway"
				case createdBy(w.name) != "":
					ic.Note = createdBy(w.name) + " creates it"
				default:
					ic.Note = "no migration creates it; the lookups it serves read the whole table until it is created as defined"
				}
			case g.def != w.def || g.constraint:
				ic.Status, ic.Definition, ic.Want = IndexDiffers, g.def, w.def
				ic.Note = "kept as it is"
			default:
				ic.Status, ic.Definition = IndexPresent, g.def
			}
			if ok && droppedBy(w.name) != "" {
				ic.Note = droppedBy(w.name) + " drops it"
			}
			r.Indexes = append(r.Indexes, ic)
		}
		for _, g := range gotIdx {
			if _, ok := want.indexes[g.name]; ok || seen[g.name] {
				continue // compared above, or a conflict
			}
			ic := IndexCheck{Table: table, Name: g.name, Status: IndexExtra, Definition: g.def, Note: "not created by the migrations; kept as it is"}
			if s := servedBy(g, want, got); s != "" {
				ic.Note = s + " serves the same lookups; you may drop it"
				if originalIndexes[g.name] {
					ic.Note = "the original's; " + ic.Note
				}
			}
			r.Indexes = append(r.Indexes, ic)
		}
	}

	for _, t := range got.tables {
		if !first[t] && !seen[t] && t != VersionTable {
			r.Other = append(r.Other, t)
		}
	}
	slices.Sort(r.Other)
}

// servedBy names an index that migration 1 creates, which the schema
// holds as migration 1 defines it, and which answers every lookup of
// extra; "" when there is none. Indexes of constraints come first.
func servedBy(extra idxInfo, want, got *catalog) string {
	var candidates []idxInfo
	for _, w := range want.indexes {
		if g, ok := got.indexes[w.name]; ok && w.table == extra.table && g.def == w.def && g.constraint == w.constraint {
			candidates = append(candidates, w)
		}
	}
	slices.SortFunc(candidates, func(a, b idxInfo) int {
		if a.constraint != b.constraint {
			if a.constraint {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	for _, c := range candidates {
		if serves(c.def, extra.def) {
			return c.name
		}
	}
	return ""
}

// compareTable lists how table differs from what migration 1 creates:
// its columns (type, nullability, default) and its named constraints.
func compareTable(table string, want, got *catalog, addedBy func(string) string) []string {
	var out []string
	gotCols := map[string]colInfo{}
	for _, c := range got.columns[table] {
		gotCols[c.name] = c
	}
	wantCols := map[string]bool{}
	for _, w := range want.columns[table] {
		wantCols[w.name] = true
		name := table + "." + w.name
		g, ok := gotCols[w.name]
		if !ok {
			out = append(out, name+": missing")
			continue
		}
		if g.typ != w.typ {
			out = append(out, fmt.Sprintf("%s: type %s, want %s", name, g.typ, w.typ))
		}
		switch {
		case g.notNull && !w.notNull:
			out = append(out, name+": NOT NULL, want nullable")
		case !g.notNull && w.notNull:
			out = append(out, name+": nullable, want NOT NULL")
		}
		switch {
		case g.def == w.def:
		case g.def == "":
			out = append(out, fmt.Sprintf("%s: no default, want %s", name, w.def))
		case w.def == "":
			out = append(out, fmt.Sprintf("%s: default %s, want none", name, g.def))
		default:
			out = append(out, fmt.Sprintf("%s: default %s, want %s", name, g.def, w.def))
		}
	}
	for _, g := range got.columns[table] {
		if wantCols[g.name] {
			continue
		}
		msg := table + "." + g.name + ": not created by migration 1"
		if m := addedBy(table + "." + g.name); m != "" {
			msg += " (" + m + " adds it)"
		}
		out = append(out, msg)
	}

	wantCons, gotCons := want.constraints[table], got.constraints[table]
	for _, name := range slices.Sorted(maps.Keys(wantCons)) {
		w := wantCons[name]
		g, ok := gotCons[name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: constraint %s: missing, want %s", table, name, w))
		case g != w:
			out = append(out, fmt.Sprintf("%s: constraint %s: %s, want %s", table, name, g, w))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(gotCons)) {
		if _, ok := wantCons[name]; !ok {
			out = append(out, fmt.Sprintf("%s: constraint %s: not created by migration 1 (%s)", table, name, gotCons[name]))
		}
	}
	return out
}

// article returns "an" for a word that starts with a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
