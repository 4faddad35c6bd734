package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/faults"
)

// TestAddcolReconcileTellsCreatedFromExisting: after a CreateCollection
// whose outcome the attempt didn't learn (its response lost, or the
// runtime killed after it), the retry's "already exists" is the user's
// collection created only when Rekognition dates it after the attempt
// began; a collection that existed before is answered as existing.
func TestAddcolReconcileTellsCreatedFromExisting(t *testing.T) {
	ctx := context.Background()
	isCreate := func(c faults.Call) bool { return c.Op == "CreateCollection" }
	for _, kind := range []faults.Kind{faults.Lost, faults.Crash} {
		for _, tt := range []struct {
			name    string
			existed bool
			wantSMS string
		}{
			{"new collection", false, "Collection faultcol was created."},
			{"existing collection", true, "Collection faultcol already exists."},
		} {
			t.Run(string(kind)+"/"+tt.name, func(t *testing.T) {
				w := newWorld(t)
				if tt.existed {
					w.cloud.Rekognition.AddCollectionAt(sleuth.CollectionID(prefix, faultCol), time.Now().Add(-10*time.Minute))
				}
				var sc scenario
				for _, s := range scenarios() {
					if s.handler == sleuth.HandlerAddCollection {
						sc = s
					}
				}
				sc.wantSMS = tt.wantSMS
				w.inj.Set(1, kind, isCreate)
				out := replay(ctx, w, inProcess{t, w}, sc.handler, sc.event(w))
				if !w.inj.Hit() {
					t.Fatalf("the fault was not injected: calls %v", w.inj.Calls())
				}
				if out.attempts != 2 {
					t.Errorf("answered at attempt %d, want 2 (the retry reconciles)", out.attempts)
				}
				if err := sc.check(w, out); err != nil {
					t.Error(err)
				}
				if n := w.cloud.Rekognition.Calls("DescribeCollection"); n != 1 {
					t.Errorf("DescribeCollection called %d times, want 1 (the retry's reconciliation)", n)
				}
			})
		}
	}
}

// TestRespondReconcilesATransformedSMS: a respond whose Twilio send lost
// its response (or whose runtime was killed after it) finds the message on
// its retry even though Twilio stored the body changed: smart encoded, and
// prefixed on a trial account. One SMS, the step done.
func TestRespondReconcilesATransformedSMS(t *testing.T) {
	ctx := context.Background()
	const body = "Face matched \u201cMel Gibson\u201d \u2013 99.1% similar\u2026"
	const stored = `Sent from your Twilio trial account - Face matched "Mel Gibson" - 99.1% similar...`
	isSend := func(c faults.Call) bool { return c.Service == "twilio" && c.Op == "POST Messages.json" }
	for _, kind := range []faults.Kind{faults.Lost, faults.Crash} {
		t.Run(string(kind), func(t *testing.T) {
			w := newWorld(t)
			w.tw.SetTrial(true)
			reply := sleuth.Reply{MessageSid: faultSid, Step: "match", From: botNumber, To: user, Body: body}
			sc := scenario{handler: sleuth.HandlerRespond, wantSMS: stored, smsStep: "sms:match", event: func(*world) events.SNSEvent { return snsRecords("responses", mustJSON(reply)) }}
			w.inj.Set(1, kind, isSend)
			out := replay(ctx, w, inProcess{t, w}, sc.handler, sc.event(w))
			if !w.inj.Hit() {
				t.Fatalf("the fault was not injected: calls %v", w.inj.Calls())
			}
			if err := sc.check(w, out); err != nil {
				t.Error(err)
			}
		})
	}
}
