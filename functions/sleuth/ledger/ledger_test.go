package ledger_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
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
	proceed    bool
	inProgress bool
}

func begin(t *testing.T, l *ledger.Ledger, key string) outcome {
	t.Helper()
	proceed, err := l.Begin(context.Background(), key)
	if err != nil && !errors.Is(err, sleuth.ErrInProgress) {
		t.Fatalf("Begin(%q) error = %v", key, err)
	}
	return outcome{proceed: proceed, inProgress: err != nil}
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
				clk.Advance(ledger.DefaultLease - time.Second)
			},
			want: outcome{inProgress: true},
		},
		{
			name: "expired claim is taken over",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				begin(t, l, key)
				clk.Advance(ledger.DefaultLease + time.Second)
			},
			want: outcome{proceed: true},
		},
		{
			name: "done step is skipped",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				begin(t, l, key)
				mustNil(t, l.Done(context.Background(), key))
				clk.Advance(24 * time.Hour) // long after any lease
			},
			want: outcome{proceed: false},
		},
		{
			name: "released claim can be taken again",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				begin(t, l, key)
				mustNil(t, l.Release(context.Background(), key))
			},
			want: outcome{proceed: true},
		},
		{
			name: "release after done keeps it done",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				begin(t, l, key)
				mustNil(t, l.Done(context.Background(), key))
				mustNil(t, l.Release(context.Background(), key))
			},
			want: outcome{proceed: false},
		},
		{
			name: "other keys don't interfere",
			steps: func(t *testing.T, l *ledger.Ledger, clk *clock) {
				begin(t, l, "SM123#match")
				begin(t, l, "SM999#addimg")
				mustNil(t, l.Done(context.Background(), "SM999#addimg"))
			},
			want: outcome{proceed: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, clk := setup(t)
			tt.steps(t, l, clk)
			if got := begin(t, l, key); got != tt.want {
				t.Errorf("Begin(%q) = %+v, want %+v", key, got, tt.want)
			}
		})
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

	if proceed, err := l.Begin(ctx, key); err != nil || !proceed {
		t.Fatalf("Begin(%q) = %v, %v; want true, nil", key, proceed, err)
	}
	item, ok := cloud.DynamoDB.Get(table, key)
	if !ok {
		t.Fatalf("no item %q after Begin", key)
	}
	wantPending := map[string]string{
		"status":     `"pending"`,
		"leaseUntil": clk.unix(2 * time.Minute),
		"expiresAt":  clk.unix(7 * 24 * time.Hour),
	}
	for attr, want := range wantPending {
		if got := item[attr].String(); got != want {
			t.Errorf("after Begin, %s = %s, want %s", attr, got, want)
		}
	}

	clk.Advance(10 * time.Second)
	mustNil(t, l.Done(ctx, key))
	item, _ = cloud.DynamoDB.Get(table, key)
	if got, want := item["status"].String(), `"done"`; got != want {
		t.Errorf("after Done, status = %s, want %s", got, want)
	}
	if got, want := item["expiresAt"].String(), clk.unix(7*24*time.Hour); got != want {
		t.Errorf("after Done, expiresAt = %s, want %s", got, want)
	}
	if v, ok := item["leaseUntil"]; ok {
		t.Errorf("after Done, leaseUntil = %s, want it removed", v)
	}

	// The duplicate's GetItem must be a consistent read, or a claim made a
	// moment ago could look absent.
	if _, err := l.Begin(ctx, key); err != nil {
		t.Fatal(err)
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

func TestReleaseOfUnknownKeyIsNoOp(t *testing.T) {
	l, cloud, _ := setup(t)
	mustNil(t, l.Release(context.Background(), "SM404#addcol"))
	if _, ok := cloud.DynamoDB.Get(table, "SM404#addcol"); ok {
		t.Error("Release created an item")
	}
}

func TestClaimReleasedBetweenPutAndGet(t *testing.T) {
	l, cloud, _ := setup(t)
	// The condition fails (another delivery held the claim) but by the time
	// of the GetItem it was released: Begin claims again.
	cloud.DynamoDB.Inject("PutItem", "ConditionalCheckFailedException")
	proceed, err := l.Begin(context.Background(), "SM1#addcol")
	if err != nil || !proceed {
		t.Fatalf("Begin = %v, %v; want true, nil", proceed, err)
	}
	if got := cloud.DynamoDB.Calls("PutItem"); got != 2 {
		t.Errorf("PutItem calls = %d, want 2", got)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		op     string
		code   string
		call   func(l *ledger.Ledger) error
		wantAs any
	}{
		{
			name: "begin throttled", op: "PutItem", code: "ProvisionedThroughputExceededException",
			call:   func(l *ledger.Ledger) error { _, err := l.Begin(context.Background(), "k#1"); return err },
			wantAs: new(*types.ProvisionedThroughputExceededException),
		},
		{
			name: "done fails", op: "UpdateItem", code: "InternalServerError",
			call:   func(l *ledger.Ledger) error { return l.Done(context.Background(), "k#1") },
			wantAs: new(*types.InternalServerError),
		},
		{
			name: "release fails", op: "DeleteItem", code: "RequestLimitExceeded",
			call:   func(l *ledger.Ledger) error { return l.Release(context.Background(), "k#1") },
			wantAs: new(*types.RequestLimitExceeded),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, cloud, _ := setup(t)
			cloud.DynamoDB.Inject(tt.op, tt.code)
			err := tt.call(l)
			if err == nil {
				t.Fatalf("%s with %s: error = nil", tt.op, tt.code)
			}
			if errors.Is(err, sleuth.ErrInProgress) {
				t.Errorf("%s with %s: error %v wraps ErrInProgress, want a plain failure", tt.op, tt.code, err)
			}
			if !errors.As(err, tt.wantAs) {
				t.Errorf("%s with %s: error %v, want it to wrap %T", tt.op, tt.code, err, tt.wantAs)
			}
		})
	}
}

func TestUnknownTable(t *testing.T) {
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	l := ledger.New(dynamodb.NewFromConfig(cloud.Config()), "no-such-table", nil)
	_, err := l.Begin(context.Background(), "SM1#addcol")
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("Begin on a missing table: error = %v, want ResourceNotFoundException", err)
	}
}

func TestEmptyKey(t *testing.T) {
	l, cloud, _ := setup(t)
	ctx := context.Background()
	if _, err := l.Begin(ctx, ""); err == nil {
		t.Error(`Begin("") error = nil`)
	}
	if err := l.Done(ctx, ""); err == nil {
		t.Error(`Done("") error = nil`)
	}
	if err := l.Release(ctx, ""); err == nil {
		t.Error(`Release("") error = nil`)
	}
	if n := len(cloud.DynamoDB.Requests()); n != 0 {
		t.Errorf("empty keys made %d requests, want 0", n)
	}
}
