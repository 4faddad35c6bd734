package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/internal/dev/gateway"
	"github.com/crossfaas/crossfaas/internal/dev/phone"
	"github.com/crossfaas/crossfaas/internal/dev/trace"
)

// What the phone simulator learns from the rest of the system, so that its
// page shows what happened: which messages will get a reply, which replies
// explain a problem, which messages came from outside the page.

// expectingPublisher is the request function's publisher: it tells the
// phone simulator that a message's command was published, so the page
// shows the message as waiting for its reply.
type expectingPublisher struct {
	sleuth.Publisher
	sim *phone.Simulator
}

func (p expectingPublisher) Publish(ctx context.Context, topicARN string, message []byte) error {
	if err := p.Publisher.Publish(ctx, topicARN, message); err != nil {
		return err
	}
	var job sleuth.Job
	if json.Unmarshal(message, &job) == nil && job.MessageSid != "" {
		p.sim.ExpectReply(job.MessageSid)
	}
	return nil
}

// markProblems wraps the respond function's handler: the context of a
// reply that explains a problem (sleuth.Reply.Error) says so (package
// trace), and the phone simulator, receiving the SMS, shows it apart.
func markProblems(handle func(context.Context, events.SNSEvent) error) func(context.Context, events.SNSEvent) error {
	return func(ctx context.Context, ev events.SNSEvent) error {
		if len(ev.Records) == 1 { // the local SNS delivers one record per event
			var reply sleuth.Reply
			if json.Unmarshal([]byte(ev.Records[0].SNS.Message), &reply) == nil && reply.Error {
				ctx = trace.WithProblem(ctx)
			}
		}
		return handle(ctx, ev)
	}
}

// allProblems wraps the failure function's handler: everything it sends
// is an apology.
func allProblems(handle func(context.Context, events.SNSEvent) error) func(context.Context, events.SNSEvent) error {
	return func(ctx context.Context, ev events.SNSEvent) error {
		return handle(trace.WithProblem(ctx), ev)
	}
}

// observeWebhooks serves the gateway, and shows in the phone simulator the
// SMS webhooks that did not come from it (a developer's script posting to
// POST /sms): the message, then the answer and the replies under it.
func observeWebhooks(next http.Handler, sim *phone.Simulator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Method != http.MethodPost || r.URL.Path != "/sms" || mt != "application/x-www-form-urlencoded" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, gateway.MaxRequestBody+1))
		r.Body.Close()
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errorReader{err}))
		params, perr := url.ParseQuery(string(body))
		if err != nil || perr != nil || !sim.ExternalWebhook(params) {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		sim.ExternalAnswer(params, rec.status, rec.body.Bytes())
	})
}

// errorReader returns err, or io.EOF when err is nil.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

// recorder passes a response through and keeps its status and the first
// 64 KiB of its body.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if room := 64<<10 - r.body.Len(); room > 0 {
		r.body.Write(p[:min(len(p), room)])
	}
	return r.ResponseWriter.Write(p)
}
