package worker_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
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
