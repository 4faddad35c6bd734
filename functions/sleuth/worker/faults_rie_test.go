package worker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/faults"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// rieTimeout is the functions' timeout in the suite under the emulator: a
// crash costs that much, plus LeaseMargin before the retry.
const rieTimeout = 3 * time.Second

// underRIE runs each attempt with the real sleuth bootstrap under the Lambda
// Runtime Interface Emulator: a crash is the runtime killed by the
// emulator at the function's timeout while the faulted call's response is
// held. The retry after a failure comes once the failed invocation's
// claims have lapsed (Lambda's comes a minute later), and each of them must
// lapse by the ledger's promise: LeaseMargin after the invocation's
// deadline, which is no later than when the emulator reported its end.
type underRIE struct {
	t     *testing.T
	w     *world
	fns   map[string]*lambdatest.Function
	ended time.Time // when the last attempt was reported ended
}

func newUnderRIE(t *testing.T, w *world) *underRIE {
	return &underRIE{t: t, w: w, fns: map[string]*lambdatest.Function{}}
}

func (r *underRIE) function(handler string) *lambdatest.Function {
	if fn, ok := r.fns[handler]; ok {
		return fn
	}
	env := map[string]string{
		"AWS_ENDPOINT_URL":         r.w.awsURL,
		"AWS_LAMBDA_LOG_FORMAT":    "JSON",
		sleuth.EnvPrefix:           prefix,
		sleuth.EnvResponsesTopic:   responsesTopic,
		sleuth.EnvIdempotencyTable: table,
		sleuth.EnvFunctionTimeout:  strconv.Itoa(int(rieTimeout / time.Second)),
		sleuth.EnvAccountSIDParam:  sidParam,
		sleuth.EnvAuthTokenParam:   tokenParam,
		sleuth.EnvTwilioAPIURL:     r.w.tw.URL,
		sleuth.EnvWikipediaURL:     r.w.wikiURL,
	}
	fn := lambdatest.Start(r.t, lambdatest.Options{
		Package: "./functions/sleuth/bootstrap", Handler: handler, Env: env, Timeout: rieTimeout,
		Name: "crossfaas-dev-sleuth-" + handler,
	})
	r.fns[handler] = fn
	return fn
}

func (r *underRIE) invoke(ctx context.Context, handler string, ev events.SNSEvent) error {
	fn := r.function(handler)
	var err error
	for range 3 {
		before := len(fn.Output())
		_, err = fn.Invoke(ctx, ev)
		// The emulator fails some invocations before our code runs: under
		// a heavy load it can start a runtime before its runtime API
		// listens (the runtime exits before it is given the event), and
		// the first invocation after an init that timed out fails while
		// it resets ("ErrGateCanceled"). Those are the emulator's
		// failures, not Lambda attempts: Lambda retries a failed init
		// itself, with a fresh environment.
		if out := fn.Output(); err == nil || len(out) < before || !emulatorFailure(out[before:]) {
			break
		}
		r.t.Logf("invoke %s: the emulator failed the invocation before the function ran: invoking again", handler)
	}
	r.ended = time.Now()
	var fnErr *lambdatest.FunctionError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &fnErr):
		r.t.Fatalf("invoke %s: %v", handler, err)
	case fnErr.Type == "Sandbox.Timedout":
		// Lambda gives the retry of a timed-out invocation a fresh
		// environment whose init has a budget of its own. The emulator
		// instead resets, and restarts the runtime (a "suppressed init")
		// inside the next invocation, after that invocation's timer
		// started: on a loaded machine the retry's cold start (the
		// bootstrap started again, its SSM reads) ate much of the 3 s and
		// the retry was killed too, a third attempt. So the next attempt
		// gets a new emulator, whose init runs before the timer, as
		// Lambda's gets a new environment.
		fn.Close()
		delete(r.fns, handler)
		return errCrashed
	case strings.Contains(fnErr.Message, sleuth.ErrInProgress.Error()):
		return fmt.Errorf("%w: %w", sleuth.ErrInProgress, err)
	}
	return err
}

// emulatorFailure reports whether output shows an invocation the emulator
// failed before the function's code ran.
func emulatorFailure(output string) bool {
	return strings.Contains(output, "failed to get the next invoke") || strings.Contains(output, "error=ErrGateCanceled")
}

// retry waits for the claims a failed attempt left to lapse, checking each
// lapses as promised; Lambda's own retry would come a minute after the
// failure.
func (r *underRIE) retry(int) {
	promise := r.ended.Add(sleuth.LeaseMargin)
	var last time.Time
	for _, item := range r.w.cloud.DynamoDB.Items(table) {
		if item["status"].String() != `"pending"` || item["leaseUntilMs"].N == nil {
			continue
		}
		ms, _ := strconv.ParseInt(*item["leaseUntilMs"].N, 10, 64)
		until := time.UnixMilli(ms)
		if until.After(promise) {
			r.t.Errorf("claim %v lapses at %v, after its promise %v (the attempt's end, %v, + LeaseMargin)", item["pk"], until, promise, r.ended)
		}
		if until.After(last) {
			last = until
		}
	}
	if wait := time.Until(last); wait > 0 {
		time.Sleep(wait + 50*time.Millisecond)
	}
}

// TestFaultInjectionUnderRIE runs combinations of the fault-injection
// suite with the real bootstrap under the emulator, where a crash is the
// runtime killed by its timeout and every attempt is a cold start. By
// default it runs a crash and a lost response at each worker's call that
// changes something, and a crash during a cold start; with
// CROSSFAAS_FAULTS=full, every (handler, call, fault) combination of
// TestFaultInjection.
func TestFaultInjectionUnderRIE(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not running bootstraps under the emulator")
	}
	full := os.Getenv("CROSSFAAS_FAULTS") == "full"
	type combo struct {
		handler string
		call    faults.Call // the first call like it
		kind    faults.Kind
	}
	var combos []combo
	ctx := context.Background()
	for _, sc := range scenarios() {
		if full {
			clean := newWorld(t)
			if sc.setup != nil {
				sc.setup(clean)
			}
			clean.inj.Set(0, faults.None, nil)
			if err := (inProcess{t, clean}).invoke(ctx, sc.handler, sc.event(clean)); err != nil {
				t.Fatalf("%s without faults: %v", sc.handler, err)
			}
			for k, c := range clean.inj.Calls() {
				for _, kind := range faultKinds {
					combos = append(combos, combo{sc.handler, faults.Call{Service: c.Service, Op: c.Op + "#" + strconv.Itoa(k+1)}, kind})
				}
			}
		}
	}
	if !full {
		combos = []combo{
			{sleuth.HandlerAddCollection, faults.Call{Service: "rekognition", Op: "CreateCollection"}, faults.Crash},
			{sleuth.HandlerAddImage, faults.Call{Service: "rekognition", Op: "IndexFaces"}, faults.Crash},
			{sleuth.HandlerAddImage, faults.Call{Service: "rekognition", Op: "IndexFaces"}, faults.Lost},
			{sleuth.HandlerMatch, faults.Call{Service: "sns", Op: "Publish"}, faults.Crash},
			{sleuth.HandlerRespond, faults.Call{Service: "twilio", Op: "POST Messages.json"}, faults.Crash},
			{sleuth.HandlerRespond, faults.Call{Service: "twilio", Op: "POST Messages.json"}, faults.Lost},
			{sleuth.HandlerRespond, faults.Call{Service: "ssm", Op: "GetParameter"}, faults.Crash},
			{sleuth.HandlerFailure, faults.Call{Service: "twilio", Op: "POST Messages.json"}, faults.Crash},
		}
	}
	passed := 0
	for _, c := range combos {
		var sc scenario
		for _, s := range scenarios() {
			if s.handler == c.handler {
				sc = s
			}
		}
		t.Run(c.handler+"/"+c.call.String()+"/"+string(c.kind), func(t *testing.T) {
			// Under a heavy load the emulator can start a runtime before
			// its runtime API listens ("failed to get the next invoke"):
			// that attempt never reaches the fault, and the combination is
			// run again once in a fresh world.
			for try := 1; ; try++ {
				w := newWorld(t)
				if sc.setup != nil {
					sc.setup(w)
				}
				ev := sc.event(w)
				inv := newUnderRIE(t, w)
				fn := inv.function(sc.handler) // started before the fault is set
				if _, nth, ok := cutNth(c.call.Op); ok {
					w.inj.Set(nth, c.kind, nil)
				} else {
					w.inj.Set(1, c.kind, func(got faults.Call) bool { return got == c.call })
				}
				out := replay(ctx, w, inv, sc.handler, ev)
				if !w.inj.Hit() {
					if try == 1 && strings.Contains(fn.Output(), "failed to get the next invoke") {
						t.Logf("the emulator's runtime API was not up for the first attempt: running the combination again")
						continue
					}
					t.Fatalf("the fault was not injected: calls %v", w.inj.Calls())
				}
				if err := sc.check(w, out); err != nil {
					t.Error(err)
					return
				}
				passed++
				return
			}
		})
	}
	t.Logf("fault injection under the emulator: %d of %d combinations answered exactly once, by the first retry (full matrix: %v)", passed, len(combos), full)
}

// cutNth splits "Op#k" into the operation and k.
func cutNth(op string) (string, int, bool) {
	for i := len(op) - 1; i >= 0; i-- {
		if op[i] == '#' {
			n, err := strconv.Atoi(op[i+1:])
			return op[:i], n, err == nil
		}
	}
	return op, 0, false
}
