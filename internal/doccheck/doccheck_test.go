// Package doccheck checks that the module's documentation, as go doc
// shows it, stands alone: every doc link resolves, and no comment points
// at a file that is not in the repository.
//
// It is a test-only package. It reads the source with go/parser, go/doc
// and go/doc/comment (the module does not depend on golang.org/x/tools),
// so it sees what go doc sees:
//
//   - Every package of the module outside internal/ and testdata/ is
//     parsed without its _test.go files. Its doc comments (the package
//     comment, exported constants, variables, types, functions, methods,
//     struct fields and interface methods) are parsed with the doc
//     comment parser go doc uses ([doc.Package.Parser]).
//   - A doc link that parsed ([comment.DocLink]) must name a symbol that
//     exists: in the same package (where [pkg.Name] with the package's
//     own name is accepted by the parser without any check), in another
//     package of the module, in the standard library (read from GOROOT)
//     or in a required module (read from the module cache when it is
//     there; otherwise the import alone is accepted).
//   - Text in brackets that has the form of a doc link but did not parse
//     as one (its name is not in the package, or its package is not
//     imported) is printed by go doc as it stands, brackets included: a
//     dangling link. So is a bracketed unexported identifier of the
//     package, which go doc never links. A word in capitals, such as
//     [REDACTED], is taken for the literal text it is.
//   - Every comment of the module's non-test Go files and every comment
//     line of its SQL files must not name a document that is not in the
//     repository: a file name ending in .md must exist (from the module
//     root or the file's directory), "spec/..." must exist from the root,
//     and "design document" has no file to point at.
package doccheck

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

// A finding is one problem at one place.
type finding struct {
	file string // slash-separated, from the module root
	line int
	msg  string
}

func (f finding) String() string { return fmt.Sprintf("%s:%d: %s", f.file, f.line, f.msg) }

// pkg is one package of the module.
type pkg struct {
	path     string // import path
	dir      string
	fset     *token.FileSet
	comments []*ast.CommentGroup // every comment of the files
	docs     []docComment        // the doc comments go doc shows
	doc      *doc.Package
	syms     map[string]bool // exported symbols, "Name" and "Type.Member"
	decls    map[string]bool // every top-level identifier, exported or not
}

func TestDocs(t *testing.T) {
	root, modPath, requires := module(t)
	pkgs := loadModule(t, root, modPath)
	ext := &externals{root: root, modPath: modPath, requires: requires, pkgs: pkgs, cache: map[string]map[string]bool{}}

	var found []finding
	for _, p := range pkgs {
		found = append(found, checkLinks(root, p, ext)...)
		found = append(found, checkGoMentions(root, p)...)
	}
	found = append(found, checkSQLMentions(t, root)...)

	for _, f := range found {
		t.Error(f)
	}
}

// module returns the module root, the module path and the required
// modules' versions.
func module(t *testing.T) (root, modPath string, requires map[string]string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	requires = map[string]string{}
	inRequire := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 2 && fields[0] == "module":
			modPath = strings.Trim(fields[1], `"`)
		case line == "require (":
			inRequire = true
		case inRequire && line == ")":
			inRequire = false
		case inRequire && len(fields) == 2:
			requires[fields[0]] = fields[1]
		case len(fields) == 3 && fields[0] == "require":
			requires[fields[1]] = fields[2]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if modPath == "" {
		t.Fatal("go.mod names no module")
	}
	return dir, modPath, requires
}

// loadModule parses every package of the module outside internal/ and
// testdata/, without test files.
func loadModule(t *testing.T, root, modPath string) map[string]*pkg {
	t.Helper()
	pkgs := map[string]*pkg{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "internal" || name == "testdata" || name == "vendor" ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		bp, err := build.ImportDir(path, build.ImportComment)
		if _, ok := err.(*build.NoGoError); ok {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		importPath := modPath
		if rel != "." {
			importPath += "/" + filepath.ToSlash(rel)
		}
		p := &pkg{path: importPath, dir: path, fset: token.NewFileSet()}
		var files []*ast.File
		for _, name := range bp.GoFiles {
			f, err := parser.ParseFile(p.fset, filepath.Join(path, name), nil, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files = append(files, f)
			p.comments = append(p.comments, f.Comments...)
		}
		// Everything read from the syntax trees is read before go/doc
		// edits them (it drops unexported declarations and detaches doc
		// comments from their declarations). The comment groups
		// themselves are left as they are.
		p.syms = symbols(files)
		p.decls = topLevel(files)
		p.docs = docComments(files)
		p.doc, err = doc.NewFromFiles(p.fset, files, importPath)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		pkgs[importPath] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("no package found")
	}
	return pkgs
}

// symbols returns the exported symbols of a package's files as doc links
// name them: "Name" for a top-level constant, variable, type or function,
// "Type.Member" for a method, struct field or interface method of an
// exported type.
func symbols(files []*ast.File) map[string]bool {
	syms := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil || len(d.Recv.List) == 0 {
					syms[d.Name.Name] = true
					continue
				}
				if recv := recvName(d.Recv.List[0].Type); ast.IsExported(recv) {
					syms[recv+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								syms[n.Name] = true
							}
						}
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						syms[s.Name.Name] = true
						var fields *ast.FieldList
						switch tt := s.Type.(type) {
						case *ast.StructType:
							fields = tt.Fields
						case *ast.InterfaceType:
							fields = tt.Methods
						}
						if fields == nil {
							continue
						}
						for _, fld := range fields.List {
							for _, n := range fld.Names {
								if n.IsExported() {
									syms[s.Name.Name+"."+n.Name] = true
								}
							}
							if len(fld.Names) == 0 { // embedded: named by its type
								if n := recvName(fld.Type); n != "" && ast.IsExported(n) {
									syms[s.Name.Name+"."+n] = true
								}
							}
						}
					}
				}
			}
		}
	}
	return syms
}

// topLevel returns every top-level identifier of the files.
func topLevel(files []*ast.File) map[string]bool {
	decls := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					decls[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							decls[n.Name] = true
						}
					case *ast.TypeSpec:
						decls[s.Name.Name] = true
					}
				}
			}
		}
	}
	return decls
}

// recvName returns the type name of a receiver or embedded field type:
// T, *T, T[P], pkg.T (as T).
func recvName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.SelectorExpr:
			return x.Sel.Name
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// externals finds the exported symbols of packages outside the module:
// the standard library from GOROOT, required modules from the module
// cache.
type externals struct {
	root, modPath string
	requires      map[string]string
	pkgs          map[string]*pkg

	once     sync.Once
	goroot   string
	modCache string

	cache map[string]map[string]bool // import path → symbols; nil: unknown, accept
}

// symbols returns the exported symbols of the package with importPath, or
// nil when its source cannot be found (a link into it is then accepted).
func (x *externals) symbols(importPath string) map[string]bool {
	if p, ok := x.pkgs[importPath]; ok {
		return p.syms
	}
	if syms, ok := x.cache[importPath]; ok {
		return syms
	}
	x.once.Do(func() {
		x.goroot = build.Default.GOROOT
		if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
			x.modCache = strings.TrimSpace(string(out))
		}
	})
	var dir string
	if first, _, _ := strings.Cut(importPath, "/"); !strings.Contains(first, ".") {
		dir = filepath.Join(x.goroot, "src", filepath.FromSlash(importPath))
	} else if x.modCache != "" {
		mod := ""
		for m := range x.requires {
			if (importPath == m || strings.HasPrefix(importPath, m+"/")) && len(m) > len(mod) {
				mod = m
			}
		}
		if mod != "" {
			if esc, ok := escapeModulePath(mod); ok {
				dir = filepath.Join(x.modCache, filepath.FromSlash(esc)+"@"+x.requires[mod], filepath.FromSlash(strings.TrimPrefix(importPath[len(mod):], "/")))
			}
		}
	}
	var syms map[string]bool
	if dir != "" {
		if bp, err := build.ImportDir(dir, 0); err == nil {
			fset := token.NewFileSet()
			var files []*ast.File
			for _, name := range bp.GoFiles {
				if f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution); err == nil {
					files = append(files, f)
				}
			}
			if len(files) > 0 {
				syms = symbols(files)
			}
		}
	}
	x.cache[importPath] = syms
	return syms
}

// escapeModulePath escapes a module path for the module cache: each
// upper-case letter becomes '!' and its lower-case form.
func escapeModulePath(path string) (string, bool) {
	var b strings.Builder
	for _, r := range path {
		if r >= utf8.RuneSelf {
			return "", false
		}
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String(), true
}

// docComment is one doc comment as go doc shows it.
type docComment struct {
	group *ast.CommentGroup
	what  string // "package doc", "Service.Start", ...
}

// docComments returns the doc comments go doc shows for a package's
// files: the package comment, and those of exported declarations, fields
// and interface methods.
func docComments(files []*ast.File) []docComment {
	var out []docComment
	add := func(g *ast.CommentGroup, what string) {
		if g != nil {
			out = append(out, docComment{g, what})
		}
	}
	for _, f := range files {
		add(f.Doc, "package doc")
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) > 0 {
					recv := recvName(d.Recv.List[0].Type)
					if !ast.IsExported(recv) {
						continue
					}
					name = recv + "." + name
				}
				add(d.Doc, name)
			case *ast.GenDecl:
				exported := "" // the group's first exported name
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						if slices.ContainsFunc(s.Names, (*ast.Ident).IsExported) {
							if exported == "" {
								exported = s.Names[0].Name
							}
							add(s.Doc, s.Names[0].Name)
							add(s.Comment, s.Names[0].Name)
						}
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						if exported == "" {
							exported = s.Name.Name
						}
						add(s.Doc, s.Name.Name)
						add(s.Comment, s.Name.Name)
						var fields *ast.FieldList
						switch tt := s.Type.(type) {
						case *ast.StructType:
							fields = tt.Fields
						case *ast.InterfaceType:
							fields = tt.Methods
						}
						if fields == nil {
							continue
						}
						for _, fld := range fields.List {
							shown := len(fld.Names) == 0 || slices.ContainsFunc(fld.Names, (*ast.Ident).IsExported)
							if shown {
								add(fld.Doc, "a member of "+s.Name.Name)
								add(fld.Comment, "a member of "+s.Name.Name)
							}
						}
					}
				}
				if exported != "" {
					if len(d.Specs) > 1 {
						exported = "the group of " + exported
					}
					add(d.Doc, exported)
				}
			}
		}
	}
	return out
}

// bracketed matches text in brackets that could be meant as a doc link:
// [Name], [*Name], [Type.Method], [pkg.Name], [path/to/pkg.Name].
var bracketed = regexp.MustCompile(`\[(\*?[\pL_][\pL\pN_]*(?:[./][\pL_][\pL\pN_]*)*)\]`)

func checkLinks(root string, p *pkg, ext *externals) []finding {
	var found []finding
	parse := p.doc.Parser()
	for _, dc := range p.docs {
		report := func(needle, msg string) {
			file, line := locate(root, p.fset, dc.group, needle)
			found = append(found, finding{file, line, fmt.Sprintf("%s (in the doc of %s)", msg, dc.what)})
		}
		d := parse.Parse(dc.group.Text())
		walkText(d.Content, func(t comment.Text) {
			switch t := t.(type) {
			case *comment.DocLink:
				checkDocLink(p, ext, t, report)
			case comment.Plain:
				checkPlain(p, string(t), report)
			}
		})
	}
	return found
}

// checkDocLink reports a link whose symbol does not exist. The parser has
// already checked symbols of the package itself, but not those of a
// [pkg.Name] link: for those it only checked that pkg is imported (or is
// the package itself, or a standard package with a one-element path).
func checkDocLink(p *pkg, ext *externals, l *comment.DocLink, report func(needle, msg string)) {
	text := linkText(l)
	if l.Name == "" {
		// [pkg] alone: a link to a package, which the parser resolved.
		return
	}
	sym := l.Name
	if l.Recv != "" {
		sym = l.Recv + "." + l.Name
	}
	var syms map[string]bool
	if l.ImportPath == "" || l.ImportPath == p.path {
		syms = p.syms
	} else {
		syms = ext.symbols(l.ImportPath)
		if syms == nil {
			return // source not available: the import is all we can check
		}
	}
	if !syms[sym] {
		where := "this package"
		if l.ImportPath != "" && l.ImportPath != p.path {
			where = l.ImportPath
		}
		report("["+text+"]", fmt.Sprintf("doc link [%s]: %s has no %s", text, where, sym))
	}
}

// checkPlain reports text that go doc shows in brackets: a doc link that
// did not resolve.
func checkPlain(p *pkg, s string, report func(needle, msg string)) {
	for _, m := range bracketed.FindAllStringSubmatchIndex(s, -1) {
		before, after := s[:m[0]], s[m[1]:]
		if !linkBoundary(before, false) || !linkBoundary(after, true) {
			continue // not in link position, as in map[K]V
		}
		text := s[m[2]:m[3]]
		name := strings.TrimPrefix(text, "*")
		if allCaps(name) {
			continue // a literal such as [REDACTED], not a Go name
		}
		last := name[strings.LastIndexAny(name, "./")+1:]
		if r, _ := utf8.DecodeRuneInString(last); unicode.IsUpper(r) {
			report("["+text+"]", fmt.Sprintf("[%s] is not a doc link: no such symbol, or its package is not imported", text))
			continue
		}
		if !strings.ContainsAny(name, "./") && p.decls[name] {
			report("["+text+"]", fmt.Sprintf("[%s] names an unexported identifier, which go doc never links", text))
		}
	}
}

// allCaps reports whether s is a word in capitals (two letters or more,
// digits and underscores allowed): text printed as it stands, like the
// [REDACTED] marker, rather than a MixedCaps Go name.
func allCaps(s string) bool {
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			letters++
		case unicode.IsDigit(r) || r == '_':
		default:
			return false
		}
	}
	return letters >= 2
}

// linkBoundary applies the doc link rule: the bracketed text must be
// preceded and followed by punctuation, a space, a tab, a newline, or
// the start or end of the text.
func linkBoundary(s string, after bool) bool {
	if s == "" {
		return true
	}
	var r rune
	if after {
		r, _ = utf8.DecodeRuneInString(s)
	} else {
		r, _ = utf8.DecodeLastRuneInString(s)
	}
	return unicode.IsPunct(r) || r == ' ' || r == '\t' || r == '\n'
}

func linkText(l *comment.DocLink) string {
	var b strings.Builder
	for _, t := range l.Text {
		if p, ok := t.(comment.Plain); ok {
			b.WriteString(string(p))
		}
	}
	return b.String()
}

// walkText calls fn for every text element of blocks, links included.
func walkText(blocks []comment.Block, fn func(comment.Text)) {
	var texts func([]comment.Text)
	texts = func(ts []comment.Text) {
		for _, t := range ts {
			fn(t)
			switch t := t.(type) {
			case *comment.Link:
				texts(t.Text)
			case *comment.Italic:
				fn(comment.Plain(*t))
			}
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *comment.Paragraph:
			texts(b.Text)
		case *comment.Heading:
			texts(b.Text)
		case *comment.List:
			for _, item := range b.Items {
				walkText(item.Content, fn)
			}
		}
	}
}

// locate returns the file and line of needle in g (the group's first line
// if needle is not on one line of it).
func locate(root string, fset *token.FileSet, g *ast.CommentGroup, needle string) (string, int) {
	pos := fset.Position(g.Pos())
	for _, c := range g.List {
		if strings.Contains(c.Text, needle) {
			pos = fset.Position(c.Pos())
			break
		}
	}
	rel, err := filepath.Rel(root, pos.Filename)
	if err != nil {
		rel = pos.Filename
	}
	return filepath.ToSlash(rel), pos.Line
}

// mention matches names of documents in comments.
var mention = regexp.MustCompile(`(?i)\bdesign[ \n]+document\b|\bspec/[\w./-]*[\w-]|[\w./-]*\b[\w-]+\.md\b`)

// checkMention reports the documents text names that are not in the
// repository. dir is the directory of the file the text is in.
func checkMention(root, dir, text string) []string {
	lower := strings.ToLower(text)
	if !strings.Contains(lower, ".md") && !strings.Contains(lower, "spec/") && !strings.Contains(lower, "design") {
		return nil // the common case, without the regular expression
	}
	var out []string
	for _, m := range mention.FindAllString(text, -1) {
		switch {
		case strings.HasPrefix(strings.ToLower(m), "design"):
			out = append(out, fmt.Sprintf("%q: names a design document, which is not in the repository; say the fact instead", "design document"))
		case strings.HasPrefix(m, "spec/"):
			if !exists(filepath.Join(root, filepath.FromSlash(m))) {
				out = append(out, fmt.Sprintf("%q: not in the repository", m))
			}
		default: // a .md file
			if !exists(filepath.Join(root, filepath.FromSlash(m))) && !exists(filepath.Join(dir, filepath.FromSlash(m))) {
				out = append(out, fmt.Sprintf("%q: not in the repository", m))
			}
		}
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkGoMentions checks every comment of p's files, doc comment or not.
func checkGoMentions(root string, p *pkg) []finding {
	var found []finding
	for _, g := range p.comments {
		for _, c := range g.List {
			for _, msg := range checkMention(root, p.dir, c.Text) {
				pos := p.fset.Position(c.Pos())
				rel, _ := filepath.Rel(root, pos.Filename)
				found = append(found, finding{filepath.ToSlash(rel), pos.Line, msg})
			}
		}
	}
	return found
}

// checkSQLMentions checks the comment lines of the module's SQL files.
func checkSQLMentions(t *testing.T, root string) []finding {
	t.Helper()
	var found []finding
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".sql") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for i, line := range strings.Split(string(b), "\n") {
			_, c, ok := strings.Cut(line, "--")
			if !ok {
				continue
			}
			for _, msg := range checkMention(root, filepath.Dir(path), c) {
				found = append(found, finding{filepath.ToSlash(rel), i + 1, msg})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestSecurityNamesExistingTests checks that every test and benchmark
// SECURITY.md names as proof exists in the package it names, and that
// every conformance case it names is one of store/storetest's. Names are
// written `TestName` and followed, after any others, by their package in
// parentheses: "Tests: `TestA`, `TestB` (user), `TestC` (session)".
func TestSecurityNamesExistingTests(t *testing.T) {
	root, _, _ := module(t)
	b, err := os.ReadFile(filepath.Join(root, "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)

	funcs := map[string]map[string]bool{} // package dir → test and benchmark functions
	testFuncs := func(pkg string) map[string]bool {
		if fs, ok := funcs[pkg]; ok {
			return fs
		}
		fs := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(pkg), "*_test.go"))
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range testFunc.FindAllStringSubmatch(string(src), -1) {
				fs[m[1]] = true
			}
		}
		funcs[pkg] = fs
		return fs
	}
	isPkg := func(p string) bool {
		if strings.Contains(p, "..") {
			return false
		}
		files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(p), "*.go"))
		return len(files) > 0
	}

	named := 0
	var pending []string
	for _, m := range securityToken.FindAllStringSubmatch(text, -1) {
		switch {
		case m[1] != "":
			pending = append(pending, m[1])
		case m[2] != "" && isPkg(m[2]):
			for _, name := range pending {
				named++
				if !testFuncs(m[2])[name] {
					t.Errorf("SECURITY.md names %s (%s), which is not a test or benchmark of %s", name, m[2], m[2])
				}
			}
			pending = nil
		case m[3] != "":
			if len(pending) > 0 {
				t.Errorf("SECURITY.md names %s without a package in parentheses after it", strings.Join(pending, ", "))
				pending = nil
			}
		}
	}
	if len(pending) > 0 {
		t.Errorf("SECURITY.md names %s without a package in parentheses after it", strings.Join(pending, ", "))
	}
	if named == 0 {
		t.Error("SECURITY.md names no test")
	}

	var suite strings.Builder
	files, _ := filepath.Glob(filepath.Join(root, "store", "storetest", "*.go"))
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		suite.Write(src)
	}
	for _, m := range conformanceCase.FindAllStringSubmatch(text, -1) {
		for _, name := range m[1:] {
			if name != "" && !strings.Contains(suite.String(), `"`+name+`":`) {
				t.Errorf("SECURITY.md names the conformance case %s, which store/storetest does not have", name)
			}
		}
	}
}

var (
	testFunc = regexp.MustCompile(`(?m)^func ((?:Test|Benchmark)\w*)\(`)
	// securityToken matches, in order: a test or benchmark name in
	// backquotes; a parenthesis opening with a word that may be a package
	// directory; the end of a paragraph.
	securityToken = regexp.MustCompile("`((?:Test|Benchmark)\\w+)`|\\(([a-z][\\w/]*)[,)]|(\\n\\s*\\n)")
	// conformanceCase matches "`Name` case" and "`A` and `B` cases".
	conformanceCase = regexp.MustCompile("`(\\w+)`(?:\\s+and\\s+`(\\w+)`)?\\s+cases?\\b")
)
