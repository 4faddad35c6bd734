package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/faults"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/twiliofake"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
)

// A fault world: the fakes of every service a sleuth worker calls, all
// behind one fault injector, so that "the k-th outbound call" of an
// invocation can be made to fail, whatever service it goes to.
type world struct {
	inj     *faults.Injector
	cloud   *awsfake.Cloud
	awsURL  string
	tw      *twiliofake.API
	wikiURL string
	clock   *clock
}

const (
	faultSid = "MM0000000000000000000000000000000f"
	faultCol = "faultcol"
)

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{inj: faults.New(), cloud: awsfake.NewCloud(), clock: &clock{t: time.Now()}}
	t.Cleanup(w.cloud.Close)
	t.Cleanup(w.inj.Release)
	w.cloud.DynamoDB.CreateTable(table)
	w.cloud.SNS.AllTopicsExist()
	w.cloud.SSM.PutSecureString(sidParam, accountSID)
	w.cloud.SSM.PutSecureString(tokenParam, authToken)
	w.cloud.Rekognition.AddCollection(celebs)
	aws := httptest.NewServer(w.inj.WrapAWS(w.cloud))
	t.Cleanup(aws.Close)
	w.awsURL = aws.URL

	w.tw = twiliofake.New(t, accountSID, authToken, nil)
	tw := httptest.NewServer(w.inj.Wrap("twilio", faults.HTTPOp, w.tw))
	t.Cleanup(tw.Close)
	w.tw.URL = tw.URL // media URLs point through the injector

	wiki := newFakeWikipedia(t)
	wikiSrv := httptest.NewServer(w.inj.Wrap("wikipedia", faults.HTTPOp, wiki.Config.Handler))
	t.Cleanup(wikiSrv.Close)
	w.wikiURL = wikiSrv.URL
	return w
}

// awsConfig is the SDK's standard configuration for the fakes: standard
// retries (three attempts), with short backoffs to keep the suite fast.
func (w *world) awsConfig() aws.Config {
	cfg := awsfake.Config(w.awsURL)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 5 * time.Millisecond, nil })
		})
	}
	return cfg
}

// config is the workers' configuration, as the stack sets it.
func (w *world) config() worker.Config {
	return worker.Config{
		Prefix: prefix, ResponsesTopicARN: responsesTopic, Threshold: 85, IdempotencyTable: table,
		TwilioAPIURL: w.tw.URL, WikipediaURL: w.wikiURL, AccountSIDParam: sidParam, AuthTokenParam: tokenParam,
		FunctionTimeout: 10 * time.Second, Now: w.clock.Now,
	}
}

// scenario is one worker's part in answering a message: the event that
// invokes it and what the user must end up with.
type scenario struct {
	handler string
	event   func(w *world) events.SNSEvent
	setup   func(w *world)
	wantSMS string
	// effect checks the side effect, exactly once.
	effect func(w *world) error
	// commandStep is the ledger step a command scenario must leave done.
	commandStep string
	// smsStep is the ledger step of the SMS ("sms:<reply step>"), which
	// must be left done with the SID of the one message sent.
	smsStep string
}

// scenarios are every worker's: the three commands, respond, failure.
func scenarios() []scenario {
	jobEvent := func(j sleuth.Job) func(*world) events.SNSEvent {
		return func(*world) events.SNSEvent { return snsRecords(string(j.Command), mustJSON(j)) }
	}
	addcol := sleuth.Job{Command: sleuth.VerbAddCollection, Collection: faultCol, From: user, To: botNumber, MessageSid: faultSid}
	addimgJob := func(w *world) events.SNSEvent {
		j := sleuth.Job{Command: sleuth.VerbAddImage, Collection: "celebs", Name: "mel_gibson", From: user, To: botNumber, MessageSid: faultSid,
			MediaURL: w.tw.AddMedia(faultSid, me("mel"), "image/jpeg", awsfake.FaceJPEG("mel")), MediaContentType: "image/jpeg"}
		return snsRecords("addimg", mustJSON(j))
	}
	matchJob := func(w *world) events.SNSEvent {
		j := sleuth.Job{Command: sleuth.VerbMatch, Collection: "celebs", From: user, To: botNumber, MessageSid: faultSid,
			MediaURL: w.tw.AddMedia(faultSid, me("mel"), "image/jpeg", awsfake.FaceJPEG("mel")), MediaContentType: "image/jpeg"}
		return snsRecords("match", mustJSON(j))
	}
	reply := sleuth.Reply{MessageSid: faultSid, Step: "addcol", From: botNumber, To: user, Body: "Collection celebs already exists."}
	failed := sleuth.Job{Command: sleuth.VerbAddImage, Collection: "celebs", Name: "mel_gibson", From: user, To: botNumber, MessageSid: faultSid}
	return []scenario{
		{
			handler: sleuth.HandlerAddCollection, event: jobEvent(addcol), commandStep: "addcol", smsStep: "sms:addcol",
			wantSMS: "Collection faultcol was created.",
			effect: func(w *world) error {
				if _, ok := w.cloud.Rekognition.Faces(sleuth.CollectionID(prefix, faultCol)); !ok {
					return errors.New("collection not created")
				}
				return nil
			},
		},
		{
			handler: sleuth.HandlerAddImage, event: addimgJob, commandStep: "addimg", smsStep: "sms:addimg",
			wantSMS: "Picture of Mel Gibson added to collection celebs.",
			effect: func(w *world) error {
				faces, _ := w.cloud.Rekognition.Faces(celebs)
				n := 0
				for _, f := range faces {
					if f.ExternalImageID == sleuth.FaceExternalID("mel_gibson", faultSid) {
						n++
					}
				}
				if n != 1 {
					return fmt.Errorf("%d faces indexed, want 1", n)
				}
				return nil
			},
		},
		{
			handler: sleuth.HandlerMatch, event: matchJob, commandStep: "match", smsStep: "sms:match",
			setup:   func(w *world) { w.cloud.Rekognition.AddFace(celebs, "mel_gibson", "mel") },
			wantSMS: "Face matched Mel Gibson with 99.1% similarity.\n\n" + melBio,
		},
		{
			handler: sleuth.HandlerRespond, wantSMS: reply.Body, smsStep: "sms:" + reply.Step,
			event: func(*world) events.SNSEvent { return snsRecords("responses", mustJSON(reply)) },
		},
		{
			handler: sleuth.HandlerFailure, wantSMS: "Sorry, that failed. Please try again later.", smsStep: "sms:failure",
			event: func(*world) events.SNSEvent { return snsRecords("failures", destinationFor(failed)) },
		},
	}
}

// snsRecords is the SNS event of one message on the topic named key.
func snsRecords(key, message string) events.SNSEvent {
	topic := "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-" + key
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventSource: "aws:sns", EventVersion: "1.0", EventSubscriptionArn: topic + ":sub",
		SNS: events.SNSEntity{Type: "Notification", MessageID: "m-" + key, TopicArn: topic, Message: message, Timestamp: time.Now().UTC()},
	}}}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// destinationFor is Lambda's on-failure record for a job whose retries
// ran out.
func destinationFor(j sleuth.Job) string {
	var rec worker.DestinationRecord
	rec.Version = "1.0"
	rec.RequestContext.Condition = "RetriesExhausted"
	rec.RequestContext.ApproximateInvokeCount = 3
	rec.RequestContext.FunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:crossfaas-dev-sleuth-addimg"
	rec.RequestPayload = json.RawMessage(mustJSON(snsRecords("addimg", mustJSON(j))))
	rec.ResponsePayload = json.RawMessage(`{"errorMessage":"rekognition unavailable","errorType":"errorString"}`)
	return mustJSON(rec)
}

// retryDelays are Lambda's waits before the two retries of an
// asynchronous invocation.
var retryDelays = []time.Duration{time.Minute, 2 * time.Minute}

// errCrashed is an attempt whose runtime died.
var errCrashed = errors.New("runtime killed")

// outcome is how a (handler, call, fault) combination ended.
type outcome struct {
	attempts   int  // invocations of the faulted worker
	inProgress bool // a retry found the step still claimed
	apology    bool // the retries ran out and the failure handler ran
	// spent is how many attempts faults before the checked one cost
	// (zero: the checked fault is the only one).
	spent int
	// arm, when set, is called before each attempt from the second on.
	arm func(attempt int)
	// noRespond leaves out the respond invocations after a command.
	noRespond bool
}

// check asserts the end state: exactly one correct SMS, the side effect
// once, the steps done, answered by the first retry.
func (sc scenario) check(w *world, out outcome) error {
	var problems []string
	msgs := w.tw.Messages()
	if len(msgs) != 1 || msgs[0].Body != sc.wantSMS || msgs[0].To != user || msgs[0].From != botNumber {
		var got []string
		for _, m := range msgs {
			got = append(got, fmt.Sprintf("%q", m.Body))
		}
		problems = append(problems, fmt.Sprintf("SMS sent = [%s], want one %q", strings.Join(got, ", "), sc.wantSMS))
	}
	if sc.effect != nil {
		if err := sc.effect(w); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if sc.commandStep != "" {
		if item, _ := w.cloud.DynamoDB.Get(table, faultSid+"#"+sc.commandStep); item["status"].String() != `"done"` {
			problems = append(problems, fmt.Sprintf("step %s is %v, want done", sc.commandStep, item))
		}
	}
	if sc.smsStep != "" && len(msgs) == 1 {
		key := faultSid + "#" + sc.smsStep
		if item, _ := w.cloud.DynamoDB.Get(table, key); item["status"].String() != `"done"` || item["result"].String() != strconv.Quote(msgs[0].SID) {
			problems = append(problems, fmt.Sprintf("sms step %s is %v, want done with the result %s", sc.smsStep, item, msgs[0].SID))
		}
		if item, _ := w.cloud.DynamoDB.Get(table, "twilio-message#"+msgs[0].SID); item["step"].String() != strconv.Quote(key) {
			problems = append(problems, fmt.Sprintf("message %s adopted as %v, want by %s", msgs[0].SID, item, key))
		}
	}
	call, kind, _ := w.inj.Injected()
	if sends, want := countCalls(w.inj.Calls(), isSend), wantSends(call, kind); sends != want {
		problems = append(problems, fmt.Sprintf("Twilio sends = %d, want %d", sends, want))
	}
	switch {
	case out.attempts != 1+out.spent && resentSafely(call, kind):
		problems = append(problems, fmt.Sprintf("answered at attempt %d, want %d: the %s fault on %s is the client's to absorb", out.attempts, 1+out.spent, kind, call))
	case out.apology:
		problems = append(problems, "retries ran out: the user got the apology")
	case out.attempts > 2+out.spent:
		problems = append(problems, fmt.Sprintf("answered at attempt %d, want %d at the latest", out.attempts, 2+out.spent))
	case out.inProgress:
		problems = append(problems, "a retry found the step still claimed")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// isSend reports whether c sends an SMS.
func isSend(c faults.Call) bool { return c.Service == "twilio" && c.Op == "POST Messages.json" }

func countCalls(calls []faults.Call, match func(faults.Call) bool) int {
	n := 0
	for _, c := range calls {
		if match(c) {
			n++
		}
	}
	return n
}

// wantSends is how many times the SMS is sent to Twilio under a kind
// fault at call: once, whatever happens, except after a 500 on the send
// itself, which Twilio answered without sending.
func wantSends(call faults.Call, kind faults.Kind) int {
	if kind == faults.Transient && isSend(call) {
		return 2
	}
	return 1
}

// resentSafely reports whether a kind fault at call is absorbed by the
// client within the invocation, so the first attempt must answer: a lost
// response or a 500 on a call the SDK sends again (the ledger's DynamoDB
// calls, whose owner token makes a re-sent claim find its own; SSM; SNS;
// Rekognition's reads) or that the Wikipedia client retries. The calls
// that change things and are sent once (CreateCollection, IndexFaces, the
// Twilio send) and the media download may take Lambda's first retry.
func resentSafely(call faults.Call, kind faults.Kind) bool {
	if kind != faults.Lost && kind != faults.Transient {
		return false
	}
	switch call.Service {
	case "dynamodb", "ssm", "sns", "wikipedia":
		return true
	case "rekognition":
		return call.Op != "CreateCollection" && call.Op != "IndexFaces"
	}
	return false
}

// invoker runs attempts of the sleuth handlers: in process, or the real
// bootstrap under the Runtime Interface Emulator.
type invoker interface {
	// invoke runs one invocation of handler; errCrashed when the runtime
	// died during it.
	invoke(ctx context.Context, handler string, ev events.SNSEvent) error
	// retry waits until Lambda retries an invocation that failed.
	retry(attempt int)
}

// replay runs handler's invocation with the fault set on w, then Lambda's
// configured retries (two) while it fails, then the failure handler; and,
// for commands, the respond handler for every reply published.
func replay(ctx context.Context, w *world, inv invoker, handler string, ev events.SNSEvent, opts ...outcome) outcome {
	var out outcome
	if len(opts) > 0 {
		out = opts[0]
	}
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			inv.retry(attempt - 1)
			if out.arm != nil {
				out.arm(attempt)
			}
		}
		out.attempts = attempt
		err := inv.invoke(ctx, handler, ev)
		w.inj.Clear() // the fault is one fault: retries run clean
		w.inj.Release()
		if err == nil {
			break
		}
		if errors.Is(err, sleuth.ErrInProgress) && attempt > 1 {
			out.inProgress = true
		}
		if attempt == 3 {
			if handler == sleuth.HandlerAddCollection || handler == sleuth.HandlerAddImage || handler == sleuth.HandlerMatch {
				out.apology = true
				var j sleuth.Job
				_ = json.Unmarshal([]byte(ev.Records[0].SNS.Message), &j)
				_ = inv.invoke(ctx, sleuth.HandlerFailure, snsRecords("failures", destinationFor(j)))
			}
			break
		}
	}
	if !out.noRespond && (handler == sleuth.HandlerAddCollection || handler == sleuth.HandlerAddImage || handler == sleuth.HandlerMatch) {
		for _, p := range w.cloud.SNS.Published() {
			if p.TopicARN == responsesTopic {
				_ = inv.invoke(ctx, sleuth.HandlerRespond, snsRecords("responses", p.Message))
			}
		}
	}
	return out
}
