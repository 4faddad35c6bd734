package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/faults"
	"github.com/crossfaas/crossfaas/functions/sleuth/ledger"
)

const table = "crossfaas-dev-sleuth-idempotency"

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time              { return c.t }
func (c *clock) Advance(d time.Duration)     { c.t = c.t.Add(d) }
func newClock() *clock                       { return &clock{t: time.Unix(1_760_000_000, 0)} }
func (c *clock) unix(d time.Duration) string { return strconv.FormatInt(c.t.Add(d).Unix(), 10) }

func setup(t *testing.T) (*ledger.Ledger, *awsfake.Cloud, *clock) {
	t.Helper()
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	cloud.DynamoDB.CreateTable(table)
	clk := newClock()
	return ledger.New(dynamodb.NewFromConfig(cloud.Config()), table, clk.Now), cloud, clk
}

// outcome is what Begin returned, comparable in a table.
type outcome struct {
	proceed    bool // a claim was taken
	done       bool
	result     string
	attempt    string
	inProgress bool
}

func begin(t *testing.T, l *ledger.Ledger, key string) (sleuth.Claim, outcome) {
	t.Helper()
	c, err := l.Begin(context.Background(), key)
	if err != nil && !errors.Is(err, sleuth.ErrInProgress) {
		t.Fatalf("Begin(%q) error = %v", key, err)
	}
	return c, outcome{proceed: err == nil && !c.Done, done: c.Done, result: c.Result, attempt: c.Attempt, inProgress: err != nil}
}

func TestBeginSequences(t *testing.T) {
	const key = "SM123#addimg"
	tests := []struct {
		name string
		// steps run before the final Begin.
		steps func(t *testing.T, l *ledger.Ledger, clk *clock)
		want  outcome
	}{
		{
			name:  "fresh key is claimed",
			steps: func(*testing.T, *ledger.Ledger, *clock) {},
			want:  outcome{proceed: true},
		},
		{
			name: "live claim means in progress",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				begin(t, l, key)
				clk.Advance(ledger.DefaultLease + sleuth.LeaseMargin - time.Millisecond)
			},
			want: outcome{inProgress: true},
		},
		{
			name: "lapsed claim is taken over",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				begin(t, l, key)
				clk.Advance(ledger.DefaultLease + sleuth.LeaseMargin + time.Millisecond)
			},
			want: outcome{proceed: true},
		},
		{
			name: "takeover keeps the attempt marker",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				c, _ := begin(t, l, key)
				mustNil(t, l.Attempt(context.Background(), c, "index-face"))
				clk.Advance(ledger.DefaultLease + sleuth.LeaseMargin + time.Millisecond)
			},
			want: outcome{proceed: true, attempt: "index-face"},
		},
		{
			name: "done step is skipped, with its result",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				c, _ := begin(t, l, key)
				mustNil(t, l.Done(context.Background(), c, "Picture added."))
				clk.Advance(24 * time.Hour) // long after any lease
			},
			want: outcome{done: true, result: "Picture added."},
		},
		{
			name: "released claim can be taken again, marker kept",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				c, _ := begin(t, l, key)
				mustNil(t, l.Attempt(context.Background(), c, "m1"))
				mustNil(t, l.Release(context.Background(), c))
			},
			want: outcome{proceed: true, attempt: "m1"},
		},
		{
			name: "a stranger's release leaves the claim",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				c, _ := begin(t, l, key)
				c.Owner = "someone-else"
				mustNil(t, l.Release(context.Background(), c))
			},
			want: outcome{inProgress: true},
		},
		{
			name: "release after done keeps it done",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				c, _ := begin(t, l, key)
				mustNil(t, l.Done(context.Background(), c, "r"))
				mustNil(t, l.Release(context.Background(), c))
			},
			want: outcome{done: true, result: "r"},
		},
		{
			name: "other keys don't interfere",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				begin(t, l, "SM123#match")
				c, _ := begin(t, l, "SM999#addimg")
				mustNil(t, l.Done(context.Background(), c, "x"))
			},
			want: outcome{proceed: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, clk := setup(t)
			tt.steps(t, l, clk)
			if _, got := begin(t, l, key); got != tt.want {
				t.Errorf("Begin(%q) = %+v, want %+v", key, got, tt.want)
			}
		})
	}
}

// TestLeaseFollowsTheDeadline: a claim lapses LeaseMargin after the
// deadline of the invocation that took it, so the first Lambda retry (a
// minute after a failure) takes over a dead invocation's step.
func TestLeaseFollowsTheDeadline(t *testing.T) {
	l, cloud, clk := setup(t)
	clk.t = time.Now().Truncate(time.Millisecond) // the context's deadline is on the real clock
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(3*time.Second))
	defer cancel()
	c, err := l.Begin(ctx, "SM1#addcol")
	if err != nil {
		t.Fatal(err)
	}
	wantUntil := clk.Now().Add(3*time.Second + sleuth.LeaseMargin)
	if d := wantUntil.Sub(c.Until); d < 0 || d > 100*time.Millisecond {
		t.Errorf("claim until %v, want %v", c.Until, wantUntil)
	}
	item, _ := cloud.DynamoDB.Get(table, "SM1#addcol")
	if got, want := item["leaseUntilMs"].String(), strconv.FormatInt(c.Until.UnixMilli(), 10); got != want {
		t.Errorf("leaseUntilMs = %s, want %s", got, want)
	}
	clk.Advance(3*time.Second + sleuth.LeaseMargin - 200*time.Millisecond)
	if _, got := begin(t, l, "SM1#addcol"); !got.inProgress {
		t.Errorf("Begin just before the lease ends = %+v, want in progress", got)
	}
	clk.Advance(200 * time.Millisecond)
	if _, got := begin(t, l, "SM1#addcol"); !got.proceed {
		t.Errorf("Begin just after the lease ends = %+v, want the claim", got)
	}
}

// TestLostResponses: the fake writes each item and then breaks the
// response (the headers of a 200, half the body, the connection closed);
// aws-sdk-go-v2 sends the call again. The owner token makes each re-sent
// call find its own write: the claim is taken at once, the marker recorded,
// the step done, exactly once.
func TestLostResponses(t *testing.T) {
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	cloud.DynamoDB.CreateTable(table)
	inj := faults.New()
	srv := httptest.NewServer(inj.WrapAWS(cloud))
	t.Cleanup(srv.Close)
	cfg := awsfake.Config(srv.URL)
	cfg.Retryer = nil // the SDK's standard retries, as the Lambdas have
	cfg.RetryMaxAttempts = 3
	clk := newClock()
	l := ledger.New(dynamodb.NewFromConfig(cfg), table, clk.Now)
	ctx := context.Background()
	const key = "SM1#addimg"
	for i, step := range []struct {
		name string
		call func() error
	}{
		{"Begin", func() error {
			c, err := l.Begin(ctx, key)
			if err == nil && (c.Done || c.Owner == "") {
				err = fmt.Errorf("claim = %+v, want a held claim", c)
			}
			return err
		}},
	} {
		_ = i
		inj.Set(1, faults.Lost, nil)
		if err := step.call(); err != nil {
			t.Fatalf("%s after a lost response: error = %v", step.name, err)
		}
		if !inj.Hit() {
			t.Fatalf("%s: the fault was not injected", step.name)
		}
		if calls := inj.Calls(); len(calls) != 2 {
			t.Errorf("%s: calls = %v, want the lost one and the SDK's re-send", step.name, calls)
		}
	}
	// Attempt, Release, Done and Adopt, each with its response lost.
	claim, err := func() (sleuth.Claim, error) {
		item, _ := cloud.DynamoDB.Get(table, key)
		return sleuth.Claim{Key: key, Owner: *item["owner"].S}, nil
	}()
	mustNil(t, err)
	for _, step := range []struct {
		name string
		call func() error
	}{
		{"Attempt", func() error { return l.Attempt(ctx, claim, "index-face") }},
		{"Adopt", func() error {
			ok, err := l.Adopt(ctx, "twilio-message#SM9", claim)
			if err == nil && !ok {
				err = errors.New("adopt = false, want true")
			}
			return err
		}},
		{"Done", func() error { return l.Done(ctx, claim, "Picture added.") }},
	} {
		inj.Set(1, faults.Lost, nil)
		if err := step.call(); err != nil {
			t.Fatalf("%s after a lost response: error = %v", step.name, err)
		}
		if !inj.Hit() || len(inj.Calls()) != 2 {
			t.Errorf("%s: hit %v, calls %v, want the lost call and one re-send", step.name, inj.Hit(), inj.Calls())
		}
	}
	inj.Clear()
	if _, got := begin(t, l, key); got != (outcome{done: true, result: "Picture added.", attempt: "index-face"}) {
		t.Errorf("Begin after the faults = %+v, want the step done once", got)
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestItemsOnTheWire(t *testing.T) {
	l, cloud, clk := setup(t)
	ctx := context.Background()
	const key = "SM1#sms:match"

	claim, err := l.Begin(ctx, key)
	if err != nil || claim.Done {
		t.Fatalf("Begin(%q) = %+v, %v; want a claim", key, claim, err)
	}
	item, ok := cloud.DynamoDB.Get(table, key)
	if !ok {
		t.Fatalf("no item %q after Begin", key)
	}
	wantPending := map[string]string{
		"status":       `"pending"`,
		"owner":        strconv.Quote(claim.Owner),
		"leaseUntilMs": strconv.FormatInt(clk.Now().Add(ledger.DefaultLease+sleuth.LeaseMargin).UnixMilli(), 10),
		"expiresAt":    clk.unix(7 * 24 * time.Hour),
	}
	for attr, want := range wantPending {
		if got := item[attr].String(); got != want {
			t.Errorf("after Begin, %s = %s, want %s", attr, got, want)
		}
	}

	clk.Advance(10 * time.Second)
	mustNil(t, l.Done(ctx, claim, "sent"))
	item, _ = cloud.DynamoDB.Get(table, key)
	if got, want := item["result"].String(), `"sent"`; got != want {
		t.Errorf("after Done, result = %s, want %s", got, want)
	}
	if got, want := item["status"].String(), `"done"`; got != want {
		t.Errorf("after Done, status = %s, want %s", got, want)
	}
	if got, want := item["expiresAt"].String(), clk.unix(7*24*time.Hour); got != want {
		t.Errorf("after Done, expiresAt = %s, want %s", got, want)
	}
	if v, ok := item["leaseUntilMs"]; ok {
		t.Errorf("after Done, leaseUntil = %s, want it removed", v)
	}

	// Status reads with a consistent read, or a claim made a moment ago
	// could look absent.
	if st, err := l.Status(ctx, key); err != nil || !st.Done || st.Result != "sent" {
		t.Fatalf("Status(%q) = %+v, %v, want done with its result", key, st, err)
	}
	var gets int
	for _, r := range cloud.DynamoDB.Requests() {
		if r.Op == "GetItem" {
			gets++
			if !r.ConsistentRead {
				t.Errorf("GetItem(%q) ConsistentRead = false, want true", r.Key)
			}
		}
		if r.Table != table {
			t.Errorf("%s on table %q, want %q", r.Op, r.Table, table)
		}
	}
	if gets != 1 {
		t.Errorf("GetItem calls = %d, want 1", gets)
	}
}

func TestAdopt(t *testing.T) {
	l, _, _ := setup(t)
	ctx := context.Background()
	a := sleuth.Claim{Key: "SM1#sms:addcol", Owner: "a"}
	b := sleuth.Claim{Key: "SM2#sms:addcol", Owner: "b"}
	for _, tt := range []struct {
		claim sleuth.Claim
		want  bool
	}{{a, true}, {a, true}, {b, false}, {sleuth.Claim{Key: a.Key, Owner: "a-later-attempt"}, true}} {
		if got, err := l.Adopt(ctx, "twilio-message#SM9", tt.claim); err != nil || got != tt.want {
			t.Errorf("Adopt(SM9) for %s = %v, %v, want %v", tt.claim.Key, got, err, tt.want)
		}
	}
}

func TestReleaseOfUnknownKeyIsNoOp(t *testing.T) {
	l, cloud, _ := setup(t)
	mustNil(t, l.Release(context.Background(), sleuth.Claim{Key: "SM404#addcol", Owner: "x"}))
	if _, ok := cloud.DynamoDB.Get(table, "SM404#addcol"); ok {
		t.Error("Release created an item")
	}
}
