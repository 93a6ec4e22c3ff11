package rbac

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// keyMatch2Param is what Casbin's keyMatch2 rewrites into a segment match.
var keyMatch2Param = regexp.MustCompile(`:[^/]+`)

// The decision index: for every subject (in every domain), the
// permissions of each role it reaches, precomputed from the active rules
// on every change, so that a decision is a few map lookups. It decides
// exactly as Casbin's Enforce does with the shipped models (proved by the
// differential tests); a model of the host's goes through Casbin instead.

// dkey is a subject within a domain ("" for models without domains).
type dkey struct{ dom, sub string }

// oa is an object and action.
type oa struct{ obj, act string }

// perms are the permissions that one policy subject's own p rules grant.
type perms struct {
	// exact: literal object, literal action (rbac, domains).
	exact map[oa]struct{}
	// anyAct: literal object, action "*".
	anyAct map[string]struct{}
	// patterns: objects that are patterns.
	patterns []pattern
	// attrs: the attribute model's rules by exact object and action.
	attrs map[oa][][3]string
}

// pattern is a keyMatch2 object pattern, compiled.
type pattern struct {
	prefix string // every match starts with it
	re     *regexp.Regexp
	act    string // "*" matches any action
}

// index decides requests. It is immutable once built.
type index struct {
	kind     kind
	subjects map[dkey][]*perms
	rules    int // active rules indexed
	// compiled are the object patterns compiled for this index (nil for a
	// literal), which the next rebuild reuses: compiling is most of a
	// rebuild's cost, and a change rarely touches many patterns.
	compiled map[string]*regexp.Regexp
}

// compilePattern compiles a keyMatch2 pattern as Casbin matches it. It
// returns a nil Regexp for a literal pattern (one that matches only
// itself).
func compilePattern(p string) (*regexp.Regexp, error) {
	src := keyMatch2Pattern(p)
	if src == "^"+regexp.QuoteMeta(p)+"$" && utf8.ValidString(p) {
		return nil, nil
	}
	return regexp.Compile(src)
}

// maxHierarchy is how many role links a subject inherits through, as
// Casbin's default role manager.
const maxHierarchy = 10

// buildIndex indexes rules (active ones, as loaded) for the model kind k.
// Rules the model cannot use are skipped and reported through skip. prev,
// if not nil, is the index this one replaces: its compiled patterns are
// reused.
func buildIndex(k kind, rules []Rule, prev *index, skip func(Rule, error)) *index {
	parity := map[kind]int{kindRBAC: 3, kindDomains: 4, kindABAC: 6}[k]
	garity := 2
	if k == kindDomains {
		garity = 3
	}
	own := map[dkey]*perms{}
	graph := map[string]map[string][]string{} // domain -> member -> roles
	nodes := map[string]map[string]struct{}{} // domain -> subjects to index
	addNode := func(dom, s string) {
		if nodes[dom] == nil {
			nodes[dom] = map[string]struct{}{}
		}
		nodes[dom][s] = struct{}{}
	}
	ix := &index{kind: k, subjects: map[dkey][]*perms{}, compiled: map[string]*regexp.Regexp{}}
	var cache map[string]*regexp.Regexp
	if prev != nil {
		cache = prev.compiled
	}
	seen := map[string]struct{}{}
	for _, r := range rules {
		if !r.Active {
			continue
		}
		switch r.Type {
		case "p":
			if len(r.Values) > parity || len(r.Values) == 0 {
				skip(r, fmt.Errorf("%w: %d values for a %d-field policy", ErrInvalidRule, len(r.Values), parity))
				continue
			}
			v := make([]string, parity)
			copy(v, r.Values)
			line := "p\x00" + strings.Join(v, "\x00")
			if _, dup := seen[line]; dup {
				continue
			}
			var dom, obj, act string
			switch k {
			case kindDomains:
				dom, obj, act = v[1], v[2], v[3]
			default:
				obj, act = v[1], v[2]
			}
			var re *regexp.Regexp
			if k != kindABAC {
				var ok bool
				if re, ok = ix.compiled[obj]; !ok {
					if re, ok = cache[obj]; !ok {
						var err error
						if re, err = compilePattern(obj); err != nil {
							skip(r, fmt.Errorf("%w: object pattern: %v", ErrInvalidRule, err))
							continue
						}
					}
					ix.compiled[obj] = re
				}
			}
			seen[line] = struct{}{}
			key := dkey{dom, v[0]}
			p := own[key]
			if p == nil {
				p = &perms{}
				own[key] = p
			}
			switch {
			case k == kindABAC:
				if p.attrs == nil {
					p.attrs = map[oa][][3]string{}
				}
				p.attrs[oa{obj, act}] = append(p.attrs[oa{obj, act}], [3]string{v[3], v[4], v[5]})
			case re != nil:
				prefix, _ := re.LiteralPrefix()
				p.patterns = append(p.patterns, pattern{prefix: prefix, re: re, act: act})
			case act == "*":
				if p.anyAct == nil {
					p.anyAct = map[string]struct{}{}
				}
				p.anyAct[obj] = struct{}{}
			default:
				if p.exact == nil {
					p.exact = map[oa]struct{}{}
				}
				p.exact[oa{obj, act}] = struct{}{}
			}
			addNode(dom, v[0])
			ix.rules++
		case "g":
			if len(r.Values) != garity {
				skip(r, fmt.Errorf("%w: %d values for a %d-field role link", ErrInvalidRule, len(r.Values), garity))
				continue
			}
			line := "g\x00" + strings.Join(r.Values, "\x00")
			if _, dup := seen[line]; dup {
				continue
			}
			seen[line] = struct{}{}
			dom := ""
			if k == kindDomains {
				dom = r.Values[2]
			}
			if graph[dom] == nil {
				graph[dom] = map[string][]string{}
			}
			graph[dom][r.Values[0]] = append(graph[dom][r.Values[0]], r.Values[1])
			addNode(dom, r.Values[0])
			addNode(dom, r.Values[1])
			ix.rules++
		default:
			skip(r, fmt.Errorf("%w: type %q is not in the model", ErrInvalidRule, r.Type))
		}
	}
	// Each subject reaches the roles within maxHierarchy links of it
	// (breadth first, as Casbin's role manager), itself included.
	for dom, subs := range nodes {
		g := graph[dom]
		for s := range subs {
			var list []*perms
			visited := map[string]struct{}{s: {}}
			frontier := []string{s}
			for depth := 0; len(frontier) > 0; depth++ {
				var next []string
				for _, n := range frontier {
					if p := own[dkey{dom, n}]; p != nil {
						list = append(list, p)
					}
					if depth == maxHierarchy {
						continue
					}
					for _, role := range g[n] {
						if _, ok := visited[role]; !ok {
							visited[role] = struct{}{}
							next = append(next, role)
						}
					}
				}
				frontier = next
			}
			if len(list) > 0 {
				ix.subjects[dkey{dom, s}] = list
			}
		}
	}
	return ix
}

// allowed decides a request of the rbac or domains model.
func (ix *index) allowed(dom, sub, obj, act string) bool {
	ps := ix.subjects[dkey{dom, sub}]
	if len(ps) == 0 {
		return false
	}
	k := oa{obj, act}
	for _, p := range ps {
		if _, ok := p.exact[k]; ok {
			return true
		}
		if _, ok := p.anyAct[obj]; ok {
			return true
		}
	}
	for _, p := range ps {
		for i := range p.patterns {
			pt := &p.patterns[i]
			if (pt.act == act || pt.act == "*") && strings.HasPrefix(obj, pt.prefix) && pt.re.MatchString(obj) {
				return true
			}
		}
	}
	return false
}

// allowedAttrs decides a request of the attribute model.
func (ix *index) allowedAttrs(sub, obj, act, dept, loc, tod string) bool {
	ps := ix.subjects[dkey{"", sub}]
	k := oa{obj, act}
	for _, p := range ps {
		for _, a := range p.attrs[k] {
			if (a[0] == dept || a[0] == "*") && (a[1] == loc || a[1] == "*") && (a[2] == tod || a[2] == "*") {
				return true
			}
		}
	}
	return false
}
