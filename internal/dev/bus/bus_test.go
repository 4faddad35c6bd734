package bus

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
	"github.com/crossfaas/crossfaas/internal/dev/trace"
)

var _ sleuth.Publisher = (*Bus)(nil)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

var short = []time.Duration{time.Millisecond, 2 * time.Millisecond}

// recorder is a subscriber that records its events and fails its first
// failures invocations.
type recorder struct {
	mu       sync.Mutex
	events   []events.SNSEvent
	sids     []string
	calls    atomic.Int32
	failures int32
}

func (r *recorder) handle(ctx context.Context, e events.SNSEvent) error {
	n := r.calls.Add(1)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.sids = append(r.sids, trace.MessageSid(ctx))
	r.mu.Unlock()
	if n <= r.failures {
		return errors.New("transient failure")
	}
	return nil
}

func closeBus(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestFanOut(t *testing.T) {
	b := New(Config{RetryDelays: short}, discard())
	topic := b.CreateTopic("crossfaas-dev-match")
	if again := b.CreateTopic("crossfaas-dev-match"); again != topic {
		t.Errorf("CreateTopic twice = %q, %q, want the same ARN", topic, again)
	}
	if want := "arn:aws:sns:local:000000000000:crossfaas-dev-match"; topic != want {
		t.Errorf("CreateTopic = %q, want %q", topic, want)
	}
	var one, two recorder
	for _, r := range []*recorder{&one, &two} {
		if err := b.Subscribe(topic, lambdaemu.NewFunction("sub", r.handle, time.Second), ""); err != nil {
			t.Fatal(err)
		}
	}
	msg := `{"command":"match","messageSid":"SM123"}`
	if err := b.Publish(context.Background(), topic, []byte(msg)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	closeBus(t, b)

	for i, r := range []*recorder{&one, &two} {
		if len(r.events) != 1 {
			t.Fatalf("subscriber %d got %d events, want 1", i, len(r.events))
		}
		rec := r.events[0].Records
		if len(rec) != 1 {
			t.Fatalf("subscriber %d got %d records, want 1", i, len(rec))
		}
		sns := rec[0].SNS
		if sns.Message != msg || sns.TopicArn != topic || sns.Type != "Notification" || sns.MessageID == "" ||
			rec[0].EventSource != "aws:sns" || !strings.HasPrefix(rec[0].EventSubscriptionArn, topic+":") {
			t.Errorf("subscriber %d record = %+v", i, rec[0])
		}
		if r.sids[0] != "SM123" {
			t.Errorf("subscriber %d context message sid = %q, want SM123", i, r.sids[0])
		}
	}
	if one.events[0].Records[0].SNS.MessageID != two.events[0].Records[0].SNS.MessageID {
		t.Errorf("subscribers got different message ids for one publish")
	}
	if got := b.DeadLetters(); len(got) != 0 {
		t.Errorf("DeadLetters = %+v, want none", got)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name         string
		failures     int32
		wantCalls    int32
		wantDead     int
		wantDestCall bool
	}{
		{"succeeds first time", 0, 1, 0, false},
		{"succeeds on the last retry", 2, 3, 0, false},
		{"retries exhausted", 100, 3, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(Config{RetryDelays: short}, discard())
			topic := b.CreateTopic("t")
			sub := &recorder{failures: tt.failures}
			var records []InvocationRecord
			var mu sync.Mutex
			failures := b.CreateTopic("failures")
			dest := lambdaemu.NewFunction("failure", func(e events.SNSEvent) error {
				var r InvocationRecord
				if err := json.Unmarshal([]byte(e.Records[0].SNS.Message), &r); err != nil {
					t.Errorf("destination message is not an invocation record: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				records = append(records, r)
				return nil
			}, time.Second)
			if err := b.Subscribe(failures, dest, ""); err != nil {
				t.Fatal(err)
			}
			if err := b.Subscribe(topic, lambdaemu.NewFunction("worker", sub.handle, time.Second), failures); err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(context.Background(), topic, []byte(`{"messageSid":"SM9"}`)); err != nil {
				t.Fatal(err)
			}
			closeBus(t, b)

			if got := sub.calls.Load(); got != tt.wantCalls {
				t.Errorf("invocations = %d, want %d", got, tt.wantCalls)
			}
			dead := b.DeadLetters()
			if len(dead) != tt.wantDead {
				t.Fatalf("DeadLetters = %+v, want %d", dead, tt.wantDead)
			}
			if (len(records) == 1) != tt.wantDestCall || len(records) > 1 {
				t.Fatalf("on-failure destination got %d records, want called = %v", len(records), tt.wantDestCall)
			}
			if !tt.wantDestCall {
				return
			}
			d := dead[0]
			if d.Function != "worker" || d.Attempts != 3 || d.MessageSid != "SM9" || !strings.Contains(d.Error, "transient failure") {
				t.Errorf("dead letter = %+v", d)
			}
			if want := "worker gave up on message SM9 after 3 attempts: transient failure. Its on-failure destination, failures, was told."; d.Summary != want {
				t.Errorf("dead letter summary = %q, want %q", d.Summary, want)
			}
			r := records[0]
			if r.RequestContext.Condition != "RetriesExhausted" || r.RequestContext.ApproximateInvokeCount != 3 ||
				r.RequestContext.FunctionARN != lambdaemu.FunctionARN("worker")+":$LATEST" || r.ResponseContext.FunctionError != "Handled" {
				t.Errorf("invocation record = %+v", r)
			}
			var original events.SNSEvent
			if err := json.Unmarshal(r.RequestPayload, &original); err != nil || original.Records[0].SNS.Message != `{"messageSid":"SM9"}` {
				t.Errorf("requestPayload = %s (%v), want the SNS event", r.RequestPayload, err)
			}
			var resp struct{ ErrorMessage, ErrorType string }
			if err := json.Unmarshal(r.ResponsePayload, &resp); err != nil || resp.ErrorMessage != "transient failure" {
				t.Errorf("responsePayload = %s, want the error", r.ResponsePayload)
			}
		})
	}
}

// TestDeadLetterSummary: a dead letter reads as a sentence: what the
// message asked for (as Config.Describe says), the errors of a joined
// error on one line, and no Go type name.
func TestDeadLetterSummary(t *testing.T) {
	b := New(Config{RetryDelays: []time.Duration{}, Describe: func(m []byte) string { return `"` + string(m) + `"` }}, discard())
	topic := b.CreateTopic("t")
	fail := lambdaemu.NewFunction("worker", func(events.SNSEvent) error {
		return errors.Join(errors.New("fetch the photo: status 500"), errors.New("claim not released"))
	}, time.Second)
	if err := b.Subscribe(topic, fail, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), topic, []byte("face match celebs")); err != nil {
		t.Fatal(err)
	}
	closeBus(t, b)
	dead := b.DeadLetters()
	if len(dead) != 1 {
		t.Fatalf("DeadLetters = %+v, want one", dead)
	}
	want := `worker gave up on "face match celebs" after 1 attempt: fetch the photo: status 500; claim not released.`
	if dead[0].Summary != want {
		t.Errorf("summary = %q, want %q", dead[0].Summary, want)
	}
	raw, _ := json.Marshal(dead[0])
	if strings.Contains(string(raw), "joinError") || strings.Contains(string(raw), "errorType") {
		t.Errorf("dead letter %s names a Go type", raw)
	}
}

func TestFailingDestinationIsDeadLettered(t *testing.T) {
	b := New(Config{RetryDelays: short}, discard())
	topic := b.CreateTopic("t")
	worker := &recorder{failures: 100}
	dest := &recorder{failures: 100}
	failures := b.CreateTopic("failures")
	if err := b.Subscribe(failures, lambdaemu.NewFunction("failure", dest.handle, time.Second), ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(topic, lambdaemu.NewFunction("worker", worker.handle, time.Second), failures); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), topic, []byte("x")); err != nil {
		t.Fatal(err)
	}
	closeBus(t, b)
	dead := b.DeadLetters()
	if len(dead) != 2 || dead[0].Function != "worker" || dead[1].Function != "failure" {
		t.Errorf("DeadLetters = %+v, want worker then failure", dead)
	}
	if got := dest.calls.Load(); got != 3 {
		t.Errorf("destination invocations = %d, want 3", got)
	}
}

func TestDuplicateDeliveries(t *testing.T) {
	b := New(Config{RetryDelays: short, DuplicateDeliveries: true}, discard())
	topic := b.CreateTopic("t")
	sub := &recorder{}
	if err := b.Subscribe(topic, lambdaemu.NewFunction("w", sub.handle, time.Second), ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), topic, []byte("x")); err != nil {
		t.Fatal(err)
	}
	closeBus(t, b)
	if got := sub.calls.Load(); got != 2 {
		t.Fatalf("invocations = %d, want 2", got)
	}
	if sub.events[0].Records[0].SNS.MessageID != sub.events[1].Records[0].SNS.MessageID {
		t.Errorf("duplicates have different message ids")
	}
}

func TestPublishErrors(t *testing.T) {
	b := New(Config{RetryDelays: short}, discard())
	topic := b.CreateTopic("t")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		topic string
		msg   string
		want  string
	}{
		{"unknown topic", context.Background(), TopicARN("nope"), "x", "topic does not exist"},
		{"empty", context.Background(), topic, "", "empty"},
		{"too large", context.Background(), topic, strings.Repeat("x", MaxMessageSize+1), "exceeds the limit"},
		{"not UTF-8", context.Background(), topic, "\xff", "UTF-8"},
		{"canceled", canceled, topic, "x", "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Publish(tt.ctx, tt.topic, []byte(tt.msg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Publish = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := b.Subscribe(TopicARN("nope"), lambdaemu.NewFunction("w", func() error { return nil }, time.Second), ""); !errors.Is(err, ErrTopicNotFound) {
		t.Errorf("Subscribe to an unknown topic = %v, want ErrTopicNotFound", err)
	}
	if err := b.Subscribe(topic, lambdaemu.NewFunction("w", func() error { return nil }, time.Second), TopicARN("nope")); !errors.Is(err, ErrTopicNotFound) {
		t.Errorf("Subscribe with an unknown destination = %v, want ErrTopicNotFound", err)
	}
	closeBus(t, b)
	if err := b.Publish(context.Background(), topic, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

func TestCloseDropsPendingRetries(t *testing.T) {
	b := New(Config{RetryDelays: []time.Duration{time.Hour}}, discard())
	topic := b.CreateTopic("t")
	sub := &recorder{failures: 100}
	if err := b.Subscribe(topic, lambdaemu.NewFunction("w", sub.handle, time.Second), ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), topic, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for sub.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a retry pending an hour away", d)
	}
	if got := sub.calls.Load(); got != 1 {
		t.Errorf("invocations = %d, want 1", got)
	}
}
