package audit

import "time"

// Internals for the tests of package audit_test.

// NewWriterWithTick starts a Writer whose flush ticker is tick.
func NewWriterWithTick(s *Service, cfg WriterConfig, tick <-chan time.Time) *Writer {
	return newWriter(s, cfg, tick, nil)
}

// NewWriterWithHooks starts a Writer whose flush ticker is tick and whose
// backoff waits are after(d) instead of timers.
func NewWriterWithHooks(s *Service, cfg WriterConfig, tick <-chan time.Time, after func(time.Duration) <-chan time.Time) *Writer {
	return newWriter(s, cfg, tick, after)
}

// WriterDone returns a channel closed when w's goroutine has exited.
func WriterDone(w *Writer) <-chan struct{} { return w.done }

// ParseFallback is parseFallback.
var ParseFallback = parseFallback

// CleanText is cleanText.
var CleanText = cleanText

// MaxValueRunes is the longest string kept in an event document.
const MaxValueRunes = maxValueRunes

// Redact returns doc as a Service configured with extra RedactKeys stores
// it, before JSON normalization.
func Redact(extra []string, doc map[string]any) map[string]any {
	var r redactor
	for _, k := range extra {
		if n := normKey(k); n != "" {
			r.extra = append(r.extra, n)
		}
	}
	return r.doc(doc)
}

// SecretKey reports whether the built-in rules redact the value of key k.
func SecretKey(k string) bool { return redactor{}.secretKey(k) }

// HashEvent returns the chain hash of e under key (nil: SHA-256), as the
// verifier recomputes it: what someone who can write the table and holds
// the key (or, keyless, anyone) would compute to forge a link.
func HashEvent(key []byte, e *Event) string {
	h, err := newChainer(key).hash(e)
	if err != nil {
		panic(err)
	}
	return h
}
