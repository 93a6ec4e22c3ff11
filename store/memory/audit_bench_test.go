package memory_test

import (
	"context"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/memory"
)

// BenchmarkAuditRecord is the memory store's cost per event, through the
// synchronous recorder and through the batched writer.
func BenchmarkAuditRecord(b *testing.B) {
	ev := audit.Event{Type: audit.LoginFailed, Source: "user", UserAgent: "Mozilla/5.0", Data: map[string]any{"reason": "wrong_password", "attempts": 3}}
	b.Run("sync", func(b *testing.B) {
		a, err := audit.NewService(memory.New().Audit(), audit.Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := a.Record(context.Background(), ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("writer", func(b *testing.B) {
		a, err := audit.NewService(memory.New().Audit(), audit.Config{})
		if err != nil {
			b.Fatal(err)
		}
		w, err := a.NewWriter(audit.WriterConfig{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := w.Record(context.Background(), ev); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}
