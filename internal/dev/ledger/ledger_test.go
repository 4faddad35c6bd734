package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLedger(t *testing.T) {
	ctx := context.Background()
	type step struct {
		op          string // begin, done, release, wait
		wantProceed bool
		wantErr     error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first begin proceeds", []step{{op: "begin", wantProceed: true}}},
		{"second begin is in progress", []step{
			{op: "begin", wantProceed: true},
			{op: "begin", wantErr: sleuth.ErrInProgress},
		}},
		{"done skips", []step{
			{op: "begin", wantProceed: true},
			{op: "done"},
			{op: "begin"},
		}},
		{"release lets a retry run", []step{
			{op: "begin", wantProceed: true},
			{op: "release"},
			{op: "begin", wantProceed: true},
		}},
		{"release after done keeps it done", []step{
			{op: "begin", wantProceed: true},
			{op: "done"},
			{op: "release"},
			{op: "begin"},
		}},
		{"expired claim can be taken", []step{
			{op: "begin", wantProceed: true},
			{op: "wait"},
			{op: "begin", wantProceed: true},
		}},
		{"done without a claim", []step{
			{op: "done"},
			{op: "begin"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			l := NewMemory(time.Minute, c.now)
			const key = "SM1#match"
			for i, s := range tt.steps {
				var proceed bool
				var err error
				switch s.op {
				case "begin":
					proceed, err = l.Begin(ctx, key)
				case "done":
					err = l.Done(ctx, key)
				case "release":
					err = l.Release(ctx, key)
				case "wait":
					c.t = c.t.Add(time.Minute + time.Second)
				}
				if proceed != s.wantProceed || !errors.Is(err, s.wantErr) {
					t.Errorf("step %d %s = %v, %v, want %v, %v", i, s.op, proceed, err, s.wantProceed, s.wantErr)
				}
			}
		})
	}
}

func TestLedgerKeysAreIndependent(t *testing.T) {
	l := NewMemory(0, nil)
	ctx := context.Background()
	for _, key := range []string{"SM1#match", "SM1#respond", "SM2#match"} {
		if ok, err := l.Begin(ctx, key); !ok || err != nil {
			t.Errorf("Begin(%q) = %v, %v, want true, nil", key, ok, err)
		}
	}
	if _, err := l.Begin(ctx, ""); err == nil {
		t.Errorf("Begin(%q) succeeded, want an error", "")
	}
}

func TestLedgerConcurrentBeginsClaimOnce(t *testing.T) {
	l := NewMemory(0, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	proceeded := 0
	for range 50 {
		wg.Go(func() {
			ok, err := l.Begin(context.Background(), "k")
			if err != nil && !errors.Is(err, sleuth.ErrInProgress) {
				t.Errorf("Begin = %v", err)
			}
			if ok {
				mu.Lock()
				proceeded++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if proceeded != 1 {
		t.Errorf("%d concurrent Begins proceeded, want 1", proceeded)
	}
}
