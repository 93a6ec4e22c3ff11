package storetest

import (
	"fmt"
	"reflect"
	"time"
)

// differ collects how the fields of a stored value differ from what a
// case expects, one "Field = got, want want" entry per difference.
type differ []string

func (d *differ) add(format string, args ...any) { *d = append(*d, fmt.Sprintf(format, args...)) }

// eq compares with reflect.DeepEqual.
func (d *differ) eq(name string, g, w any) {
	if !reflect.DeepEqual(g, w) {
		d.add("%s = %v, want %v", name, g, w)
	}
}

// time compares instants and requires got in UTC, as the stores return
// every time.
func (d *differ) time(name string, g, w time.Time) {
	if !g.Equal(w) {
		d.add("%s = %v, want %v", name, g, w)
	}
	if g.Location() != time.UTC {
		d.add("%s location = %v, want UTC", name, g.Location())
	}
}

// timePtr compares optional times: both nil, or equal instants with got
// in UTC.
func (d *differ) timePtr(name string, g, w *time.Time) {
	if g == nil || w == nil {
		if g != nil || w != nil {
			d.add("%s = %s, want %s", name, fmtTime(g), fmtTime(w))
		}
		return
	}
	d.time(name, *g, *w)
}

// String returns the differences, or "" when there are none.
func (d differ) String() string {
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint([]string(d))
}
