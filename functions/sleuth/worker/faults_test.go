package worker_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth/internal/faults"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
)

// inProcess runs each attempt as a cold start in this process: the
// handler built by worker.NewHandler (the SSM reads of the Twilio
// credentials included) and invoked. A crash is the runtime killed right
// after the faulted call was served: the invocation's context is cancelled
// the moment the fake has served it, and nothing it sends after gets
// through. Retries come when Lambda's would, on the ledger's clock.
type inProcess struct {
	t *testing.T
	w *world
}

func (p inProcess) invoke(ctx context.Context, handler string, ev events.SNSEvent) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second) // the function's timeout
	defer cancel()
	done := make(chan error, 1)
	go func() {
		h, err := worker.NewHandler(ctx, handler, p.w.config(), p.w.awsConfig(), slog.New(slog.DiscardHandler))
		if err != nil {
			done <- err
			return
		}
		done <- h(ctx, ev)
	}()
	select {
	case err := <-done:
		return err
	case <-p.w.inj.Crashed():
		cancel()
		<-done
		return errCrashed
	}
}

func (p inProcess) retry(attempt int) { p.w.clock.Advance(retryDelays[attempt-1]) }

var faultKinds = []faults.Kind{faults.Crash, faults.Lost, faults.Transient}

// TestFaultInjection is the fault-injection suite: for every worker and
// every outbound call of its first invocation (the SSM reads of its cold
// start included), a crash after the call, a lost response and a transient
// error, followed by the retries the stack configures; each combination
// must end with exactly one correct SMS, one side effect, the steps done
// and the answer by the first retry.
func TestFaultInjection(t *testing.T) {
	ctx := context.Background()
	passed, total := 0, 0
	for _, sc := range scenarios() {
		// A clean run names the calls of the first invocation.
		clean := newWorld(t)
		if sc.setup != nil {
			sc.setup(clean)
		}
		clean.inj.Set(0, faults.None, nil)
		if err := (inProcess{t, clean}).invoke(ctx, sc.handler, sc.event(clean)); err != nil {
			t.Fatalf("%s without faults: %v", sc.handler, err)
		}
		calls := clean.inj.Calls()
		if len(calls) == 0 {
			t.Fatalf("%s made no outbound call", sc.handler)
		}
		for k, call := range calls {
			for _, kind := range faultKinds {
				total++
				name := sc.handler + "/" + call.String() + "#" + itoa(k+1) + "/" + string(kind)
				t.Run(name, func(t *testing.T) {
					w := newWorld(t)
					if sc.setup != nil {
						sc.setup(w)
					}
					ev := sc.event(w)
					w.inj.Set(k+1, kind, nil)
					out := replay(ctx, w, inProcess{t, w}, sc.handler, ev)
					if !w.inj.Hit() {
						t.Fatalf("the fault was not injected: calls %v", w.inj.Calls())
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
	t.Logf("fault injection: %d of %d (handler, call, fault) combinations answered exactly once, by the first retry", passed, total)
	if passed != total {
		t.Errorf("%d of %d combinations failed", total-passed, total)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
