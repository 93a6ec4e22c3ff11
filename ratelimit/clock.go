package ratelimit

import (
	"sync/atomic"
	"time"
)

// systemNow is the default clock: the wall clock, read through the
// monotonic one. time.Now reads both, which costs about 60 ns on a
// virtual machine's clock source (a third of a whole in-memory check);
// the monotonic reading alone costs about half. The wall time is read
// again whenever a second has passed, so a step of the system clock
// (NTP, a resumed virtual machine) shows within a second.
func systemNow() time.Time {
	b := clockBase.Load()
	if b != nil {
		if d := time.Since(*b); d >= 0 && d < time.Second {
			return b.Add(d)
		}
	}
	t := time.Now()
	clockBase.Store(&t)
	return t
}

// clockBase is the last wall clock reading, with its monotonic reading.
var clockBase atomic.Pointer[time.Time]
