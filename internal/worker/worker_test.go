package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type key struct{}

func TestRunsEveryJobBeforeClose(t *testing.T) {
	p := New(3, 100, time.Minute)
	var ran atomic.Int32
	for range 100 {
		if err := p.Submit(context.Background(), Job{Run: func(context.Context) { ran.Add(1) }}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 100 {
		t.Fatalf("ran %d jobs, want 100", ran.Load())
	}
	if err := p.Submit(context.Background(), Job{Run: func(context.Context) {}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestValuesNotCancellation(t *testing.T) {
	p := New(1, 1, time.Minute)
	defer p.Close(context.Background())
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	got := make(chan [2]any, 1)
	start := make(chan struct{})
	if err := p.Submit(ctx, Job{Run: func(ctx context.Context) {
		<-start
		got <- [2]any{ctx.Value(key{}), ctx.Err()}
	}}); err != nil {
		t.Fatal(err)
	}
	cancel() // the request ended
	close(start)
	if g := <-got; g[0] != "v" || g[1] != nil {
		t.Fatalf("job saw value %v, err %v; want v, nil", g[0], g[1])
	}
}

func TestFull(t *testing.T) {
	p := New(1, 1, time.Minute)
	block := make(chan struct{})
	started := make(chan struct{})
	p.Submit(context.Background(), Job{Run: func(context.Context) { close(started); <-block }})
	<-started
	if err := p.Submit(context.Background(), Job{Run: func(context.Context) {}}); err != nil {
		t.Fatalf("second job (queued): %v", err)
	}
	if err := p.Submit(context.Background(), Job{Run: func(context.Context) {}}); !errors.Is(err, ErrFull) {
		t.Fatalf("third job: %v, want ErrFull", err)
	}
	close(block)
	p.Close(context.Background())
}

// A job that ignores its context cannot hold Close past its deadline; the
// queued jobs are dropped, and the running one is dropped when it returns.
func TestCloseHonoursDeadline(t *testing.T) {
	p := New(1, 10, time.Minute)
	release := make(chan struct{})
	started := make(chan struct{})
	var mu sync.Mutex
	var dropped []string
	dropFn := func(name string) func(error) {
		return func(err error) {
			if !errors.Is(err, ErrAbandoned) {
				t.Errorf("%s dropped with %v", name, err)
			}
			mu.Lock()
			dropped = append(dropped, name)
			mu.Unlock()
		}
	}
	var cancelled atomic.Bool
	p.Submit(context.Background(), Job{
		Run: func(ctx context.Context) {
			close(started)
			<-ctx.Done() // cancelled by Close
			cancelled.Store(true)
			<-release // and still stuck
		},
		Drop: dropFn("running"),
	})
	<-started
	for _, n := range []string{"q1", "q2", "q3"} {
		p.Submit(context.Background(), Job{Run: func(context.Context) { t.Errorf("%s ran", n) }, Drop: dropFn(n)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	mu.Lock()
	if len(dropped) != 3 {
		t.Errorf("dropped at Close: %v, want q1 q2 q3", dropped)
	}
	mu.Unlock()
	close(release)
	<-p.done
	if !cancelled.Load() {
		t.Error("running job's context was not cancelled")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dropped) != 4 || dropped[3] != "running" {
		t.Errorf("dropped = %v, want the running job last", dropped)
	}
}

func TestJobTimeout(t *testing.T) {
	p := New(1, 1, time.Nanosecond)
	defer p.Close(context.Background())
	done := make(chan error)
	p.Submit(context.Background(), Job{Run: func(ctx context.Context) { <-ctx.Done(); done <- ctx.Err() }})
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("job ctx ended with %v", err)
	}
}

// Submit and Close race without panicking on the closed channel.
func TestSubmitDuringClose(t *testing.T) {
	for range 50 {
		p := New(2, 4, time.Minute)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					err := p.Submit(context.Background(), Job{Run: func(context.Context) {}})
					if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrFull) {
						t.Error(err)
					}
				}
			}()
		}
		p.Close(context.Background())
		wg.Wait()
	}
}
