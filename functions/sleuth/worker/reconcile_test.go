package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/faults"
	"github.com/crossfaas/crossfaas/functions/sleuth/ledger"
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

// TestUncertainRelease: an attempt whose IndexFaces failed releases its
// claim, and that release's outcome is uncertain (its response lost, or
// the runtime killed once DynamoDB applied it). A duplicate delivery
// arriving at once must then either find the step claimed (the release
// did not land: wait for the lease) or take it over with the attempt
// marker, so that it reconciles; never a fresh claim. Lambda's retry then
// answers: one face, one SMS.
func TestUncertainRelease(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []faults.Kind{faults.Lost, faults.Crash} {
		t.Run(string(kind), func(t *testing.T) {
			w := newWorld(t)
			var sc scenario
			for _, s := range scenarios() {
				if s.handler == sleuth.HandlerAddImage {
					sc = s
				}
			}
			ev := sc.event(w)
			w.cloud.Rekognition.Inject("IndexFaces", "InternalServerError")
			// The calls of addimg: GetParameter x2, UpdateItem (claim), GET
			// Media, UpdateItem (attempt), IndexFaces, UpdateItem (release).
			w.inj.Set(7, kind, nil)
			if err := (inProcess{t, w}).invoke(ctx, sc.handler, ev); err == nil {
				t.Fatal("the attempt whose IndexFaces failed succeeded")
			}
			if call, _, ok := w.inj.Injected(); !ok || call.Op != "UpdateItem" {
				t.Fatalf("the fault hit %v, want the release's UpdateItem: calls %v", call, w.inj.Calls())
			}
			w.inj.Release()
			w.inj.Set(0, faults.None, nil) // the retries run clean; count their calls

			l := ledger.New(dynamodb.NewFromConfig(w.awsConfig()), table, w.clock.Now)
			dup, err := l.Begin(ctx, faultSid+"#addimg")
			switch {
			case errors.Is(err, sleuth.ErrInProgress):
			case err != nil:
				t.Fatalf("duplicate's Begin: %v", err)
			case dup.Attempt == "":
				t.Fatalf("a duplicate took the step over without the attempt marker: it would not reconcile")
			default:
				if err := l.Release(ctx, dup); err != nil {
					t.Fatal(err)
				}
			}

			w.clock.Advance(retryDelays[0])
			if err := (inProcess{t, w}).invoke(ctx, sc.handler, ev); err != nil {
				t.Fatalf("Lambda's retry: %v", err)
			}
			for _, p := range w.cloud.SNS.Published() {
				if p.TopicARN == responsesTopic {
					_ = (inProcess{t, w}).invoke(ctx, sleuth.HandlerRespond, snsRecords("responses", p.Message))
				}
			}
			if err := sc.check(w, outcome{attempts: 2}); err != nil {
				t.Error(err)
			}
		})
	}
}
