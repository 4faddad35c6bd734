package worker_test

import (
	"context"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/faults"
)

// effects are the calls that change things, by handler: a lost response
// there makes Lambda's retry reconcile.
var effects = map[string]faults.Call{
	sleuth.HandlerAddCollection: {Service: "rekognition", Op: "CreateCollection"},
	sleuth.HandlerAddImage:      {Service: "rekognition", Op: "IndexFaces"},
	sleuth.HandlerRespond:       {Service: "twilio", Op: "POST Messages.json"},
	sleuth.HandlerFailure:       {Service: "twilio", Op: "POST Messages.json"},
}

// TestFaultInjectionWhileReconciling widens the suite to the calls only a
// retry makes: the first attempt loses the response of its call that
// changes things (CreateCollection, IndexFaces, the Twilio send), so
// Lambda's retry reconciles (DescribeCollection, ListFaces, the Messages
// list, the adoption); each call of that retry then gets a crash, a lost
// response and a transient error in turn. Each combination must end with
// one correct SMS, one effect, the steps done, by Lambda's second retry
// (by the first for a fault the client absorbs).
func TestFaultInjectionWhileReconciling(t *testing.T) {
	ctx := context.Background()
	passed, total := 0, 0
	for _, sc := range scenarios() {
		effect, ok := effects[sc.handler]
		if !ok {
			continue
		}
		isEffect := func(c faults.Call) bool { return c == effect }
		// A run with the lost effect and a clean retry names the retry's calls.
		clean := newWorld(t)
		if sc.setup != nil {
			sc.setup(clean)
		}
		clean.inj.Set(1, faults.Lost, isEffect)
		out := replay(ctx, clean, inProcess{t, clean}, sc.handler, sc.event(clean), outcome{noRespond: true})
		if out.attempts != 2 {
			t.Fatalf("%s with a lost %s: answered at attempt %d, want 2", sc.handler, effect, out.attempts)
		}
		retryCalls := retryCallsOf(t, sc.handler, clean.inj.Calls(), effect)
		for k, call := range retryCalls {
			for _, kind := range faultKinds {
				total++
				name := sc.handler + "/" + call.String() + "#" + itoa(k+1) + "/" + string(kind)
				t.Run(name, func(t *testing.T) {
					w := newWorld(t)
					if sc.setup != nil {
						sc.setup(w)
					}
					ev := sc.event(w)
					w.inj.Set(1, faults.Lost, isEffect)
					out := replay(ctx, w, inProcess{t, w}, sc.handler, ev, outcome{spent: 1, arm: func(attempt int) {
						if attempt == 2 {
							w.inj.Arm(k+1, kind, nil)
						}
					}})
					if got, _, ok := w.inj.Injected(); !ok || got != call {
						t.Fatalf("the fault hit %v (%v), want %v: calls %v", got, ok, call, w.inj.Calls())
					}
					if err := sc.check(w, out); err != nil {
						t.Error(err)
						return
					}
					passed++
				})
			}
		}
	}
	t.Logf("fault injection while reconciling: %d of %d (handler, retry's call, fault) combinations answered exactly once", passed, total)
	if passed != total {
		t.Errorf("%d of %d combinations failed", total-passed, total)
	}
}

// retryCallsOf returns the calls of the second attempt among calls, the
// calls of both attempts of a reconciliation with no other fault: those
// after the first attempt's lost effect and the release that followed it.
func retryCallsOf(t *testing.T, handler string, calls []faults.Call, effect faults.Call) []faults.Call {
	t.Helper()
	for i, c := range calls {
		if c != effect {
			continue
		}
		// After the lost effect the first attempt releases its claim
		// (one UpdateItem), then the retry starts.
		rest := calls[i+1:]
		if len(rest) == 0 || rest[0].Op != "UpdateItem" {
			t.Fatalf("%s: after the lost %s, calls %v: want the release first", handler, effect, rest)
		}
		return rest[1:]
	}
	t.Fatalf("%s: no %s among %v", handler, effect, calls)
	return nil
}
