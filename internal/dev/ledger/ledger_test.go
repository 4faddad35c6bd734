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
		op          string // begin, attempt, done, release, wait
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
		{"attempt marker survives a release", []step{
			{op: "begin", wantProceed: true},
			{op: "attempt"},
			{op: "release"},
			{op: "begin", wantProceed: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			l := NewMemory(time.Minute, c.now)
			const key = "SM1#match"
			var held sleuth.Claim
			attempted := false
			for i, s := range tt.steps {
				var proceed bool
				var err error
				switch s.op {
				case "begin":
					var claim sleuth.Claim
					claim, err = l.Begin(ctx, key)
					proceed = err == nil && !claim.Done
					if proceed {
						if got := claim.Attempt != ""; got != attempted {
							t.Errorf("step %d: claim attempt = %q, want one: %v", i, claim.Attempt, attempted)
						}
						held = claim
					}
				case "attempt":
					err = l.Attempt(ctx, held, "marker")
					attempted = true
				case "done":
					err = l.Done(ctx, sleuth.Claim{Key: key}, "result")
				case "release":
					err = l.Release(ctx, held)
				case "wait":
					c.t = c.t.Add(time.Minute + sleuth.LeaseMargin + time.Second)
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
		if c, err := l.Begin(ctx, key); c.Done || err != nil {
			t.Errorf("Begin(%q) = %+v, %v, want a claim", key, c, err)
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
			c, err := l.Begin(context.Background(), "k")
			if err != nil && !errors.Is(err, sleuth.ErrInProgress) {
				t.Errorf("Begin = %v", err)
			}
			if err == nil && !c.Done {
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
