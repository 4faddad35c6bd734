package worker_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/ledger"
)

//go:embed testdata/destination-record.json
var destinationRecord string

func TestFailure(t *testing.T) {
	const sorry = "Sorry, that failed. Please try again later."
	replyPayload := strings.Replace(destinationRecord,
		`"Message": "{\"command\":\"addimg\"`, `"Message": "{\"step\":\"addimg\"`, 1)
	if replyPayload == destinationRecord {
		t.Fatal("fixture changed: cannot derive a record whose payload is a Reply")
	}
	tests := []struct {
		name       string
		failSMS    []int
		deliveries []string // SNS messages delivered in order
		wantErrs   []bool
		wantSMS    [][3]string
	}{
		{
			name:       "apologises from the bot to the user",
			deliveries: []string{destinationRecord},
			wantErrs:   []bool{false},
			wantSMS:    [][3]string{{"+15550002222", "+15550001111", sorry}},
		},
		{
			name:       "once per message",
			deliveries: []string{destinationRecord, destinationRecord},
			wantErrs:   []bool{false, false},
			wantSMS:    [][3]string{{"+15550002222", "+15550001111", sorry}},
		},
		{
			name:       "Twilio down: retried",
			failSMS:    []int{http.StatusServiceUnavailable},
			deliveries: []string{destinationRecord, destinationRecord},
			wantErrs:   []bool{true, false},
			wantSMS:    [][3]string{{"+15550002222", "+15550001111", sorry}},
		},
		{
			name:       "not a destination record",
			deliveries: []string{"{oops", `{"requestPayload": "not an event"}`, `{}`},
			wantErrs:   []bool{false, false, false},
		},
		{
			name:       "payload of the respond function is not a job",
			deliveries: []string{replyPayload},
			wantErrs:   []bool{false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.twilio.failSMS(tt.failSMS...)
			for i, msg := range tt.deliveries {
				err := h.failure.HandleSNS(context.Background(), snsEvent(t, "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-failures", msg))
				if (err != nil) != tt.wantErrs[i] {
					t.Errorf("delivery #%d: error = %v, want error %v", i+1, err, tt.wantErrs[i])
				}
			}
			if got := h.twilio.sent(); !equalSMS(got, tt.wantSMS) {
				t.Errorf("SMS sent = %q, want %q", got, tt.wantSMS)
			}
		})
	}
}

// The failure handler and the respond handler keep separate ledger steps:
// an apology does not stop a later reply of the command, nor the reverse.
func TestFailureLedgerKey(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.failure.Process(ctx, []byte(destinationRecord)); err != nil {
		t.Fatal(err)
	}
	item, ok := h.cloud.DynamoDB.Get(table, "MM0123456789abcdef0123456789abcdef#sms:failure")
	if !ok || item["status"].String() != `"done"` {
		t.Errorf("ledger item for sms:failure = %v, want status done", item)
	}
	var logged map[string]any
	for _, rec := range h.logs.records(t) {
		if rec["msg"] == "job failed for good, apologising" {
			logged = rec
		}
	}
	lastError, _ := logged["lastError"].(string)
	if logged["condition"] != "RetriesExhausted" || logged["failedStep"] != "addimg" ||
		!strings.Contains(lastError, "ProvisionedThroughputExceededException") {
		t.Errorf("apology log record = %v, want the condition, failed step and last error", logged)
	}
	// Make sure the fixture's record is what Lambda documents.
	var rec map[string]json.RawMessage
	if err := json.Unmarshal([]byte(destinationRecord), &rec); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"version", "timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"} {
		if _, ok := rec[field]; !ok {
			t.Errorf("fixture lacks %q", field)
		}
	}
}

// A slow first delivery can outlive the retries of its duplicates: when the
// ledger shows the job's step or its reply SMS done, the user has or will
// get the real answer, and no apology is sent.
func TestFailureSkipsAnsweredJobs(t *testing.T) {
	const sid = "MM0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		key     string
		done    bool
		wantSMS int
	}{
		{name: "step done", key: sid + "#addimg", done: true},
		{name: "reply sms sent", key: sid + "#sms:addimg", done: true},
		{name: "another job's step done", key: "MMother#addimg", done: true, wantSMS: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			led := ledger.New(dynamodb.NewFromConfig(h.cloud.Config()), table, h.clock.Now)
			claim, err := led.Begin(ctx, tt.key)
			if err != nil || claim.Done {
				t.Fatalf("Begin(%q) = %+v, %v, want a claim", tt.key, claim, err)
			}
			if tt.done {
				if err := led.Done(ctx, claim, "answered"); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.failure.Process(ctx, []byte(destinationRecord)); err != nil {
				t.Fatalf("Process = %v, want nil", err)
			}
			if got := len(h.twilio.sent()); got != tt.wantSMS {
				t.Errorf("%d SMS sent, want %d", got, tt.wantSMS)
			}
			// Looking must not leave a claim behind.
			for _, key := range []string{sid + "#addimg", sid + "#sms:addimg"} {
				if key == tt.key {
					continue
				}
				if item, ok := h.cloud.DynamoDB.Get(table, key); ok {
					t.Errorf("ledger item %q = %v left behind, want none", key, item)
				}
			}
		})
	}
}

// A claim still held on the job's step or reply SMS is no answer: it may be
// a live duplicate's, or that of the failed delivery itself, which Lambda
// ended (a timeout) before it could release it. The apology is deferred
// with an error, so Lambda retries the failure handler; by the retry the
// duplicate has answered (no apology), or the dead claim's lease has run
// out (the apology, not silence).
func TestFailureDefersWhileStepClaimed(t *testing.T) {
	const sid = "MM0123456789abcdef0123456789abcdef"
	const sorry = "Sorry, that failed. Please try again later."
	tests := []struct {
		name     string
		key      string
		answered bool // the claim's delivery finishes before the retry
		wantSMS  [][3]string
	}{
		{name: "timed-out delivery's claim on the step", key: sid + "#addimg", wantSMS: [][3]string{{botNumber, user, sorry}}},
		{name: "timed-out delivery's claim on the reply sms", key: sid + "#sms:addimg", wantSMS: [][3]string{{botNumber, user, sorry}}},
		{name: "live duplicate answers", key: sid + "#addimg", answered: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			led := ledger.New(dynamodb.NewFromConfig(h.cloud.Config()), table, h.clock.Now)
			// The delivery's invocation has 10 s; it dies holding the claim.
			claimCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			claim, err := led.Begin(claimCtx, tt.key)
			cancel()
			if err != nil || claim.Done {
				t.Fatalf("Begin(%q) = %+v, %v, want a claim", tt.key, claim, err)
			}
			h.clock.Advance(10 * time.Second) // it timed out; its destination record arrives
			if err := h.failure.Process(ctx, []byte(destinationRecord)); !errors.Is(err, sleuth.ErrInProgress) {
				t.Errorf("Process while %q is claimed = %v, want an error wrapping %v", tt.key, err, sleuth.ErrInProgress)
			}
			if got := h.twilio.sent(); len(got) != 0 {
				t.Errorf("SMS sent while %q is claimed = %q, want none", tt.key, got)
			}
			if tt.answered {
				if err := led.Done(ctx, claim, "answered"); err != nil {
					t.Fatal(err)
				}
			}
			h.clock.Advance(time.Minute) // Lambda's retry, a minute later: the claim has lapsed
			if err := h.failure.Process(ctx, []byte(destinationRecord)); err != nil {
				t.Errorf("Process on retry = %v, want nil", err)
			}
			if got := h.twilio.sent(); !equalSMS(got, tt.wantSMS) {
				t.Errorf("SMS sent = %q, want %q", got, tt.wantSMS)
			}
		})
	}
}
