package devlog

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// invocation returns the context of an invocation with request id id, as
// the Lambda emulator gives a handler.
func invocation(id string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
}

func TestHumanLines(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(NewHandler(&out, Options{Prefix: "crossfaas-local-"}))
	sns := log.With("component", "sns")
	match := log.With("function", "crossfaas-local-match")
	sid := "MM0123456789abcdef0123456789abcdef"

	// A successful invocation: the function's records make one line with
	// the hop record that ends it.
	ctx := invocation("req-1")
	sns.InfoContext(ctx, "sns: published", "topic", "x") // the bus, inside the handler's Publish
	match.With("sid", sid, "collection", "celebs").InfoContext(ctx, "reply published")
	match.With("sid", sid, "collection", "celebs").InfoContext(ctx, "job done", "result", "matched")
	sns.With("function", "crossfaas-local-match", "sid", sid, "request_id", "req-1").Info("lambda: invoked", Hop(), "attempt", 1, "of", 3, "duration_ms", 412)

	// A failed attempt: its warning is the line's, with the retry.
	ctx = invocation("req-2")
	match.With("sid", sid).WarnContext(ctx, "step failed, will be retried", "error", "twilio media: status 500\nclaim not released")
	match.With("sid", sid).InfoContext(ctx, "later info")
	sns.With("function", "crossfaas-local-match", "sid", sid, "request_id", "req-2").Warn("lambda: invocation failed", Hop(),
		"attempt", 1, "of", 3, "duration_ms", 5, "retry_in", "2s", "err", "ignored: the function's own record says it")

	// Outside any hop: info is left out, warnings are shown.
	log.Info("dev: running", "mode", "offline")
	log.With("component", "gateway").Warn("gateway: request for a host this API does not serve", "host", "evil:1")
	// A record that is a hop by itself (the labeler, the phone).
	log.With("component", "phone", "sid", sid).Info("phone: texted the bot", Hop(), "body", "face match celebs")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`^\d\d:\d\d:\d\d       match     MM0123456789abcdef0123456789abcdef job done \(collection=celebs, result=matched\) · 412 ms$`,
		`^\d\d:\d\d:\d\d WARN  match     MM0123456789abcdef0123456789abcdef step failed, will be retried: twilio media: status 500; claim not released · 5 ms, attempt 1 of 3, retry in 2s$`,
		`^\d\d:\d\d:\d\d WARN  gateway   -                                  request for a host this API does not serve$`,
		`^\d\d:\d\d:\d\d       phone     MM0123456789abcdef0123456789abcdef texted the bot "face match celebs"$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), &out)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, lines[i], w)
		}
	}
}

func TestVerbose(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(NewHandler(&out, Options{Verbose: true}))
	log.Debug("dev: default collection ready", "collection", "x-celebs", "created", true)
	log.With("function", "f").InfoContext(invocation("r"), "job done", "result", "created")
	got := out.String()
	for _, want := range []string{"DEBUG", "default collection ready (collection=x-celebs, created=true)", "INFO  f", "job done (result=created)"} {
		if !strings.Contains(got, want) {
			t.Errorf("verbose output lacks %q:\n%s", want, got)
		}
	}
}

// TestPendingBounded: outcomes of invocations whose hop never comes do
// not pile up.
func TestPendingBounded(t *testing.T) {
	h := NewHandler(&bytes.Buffer{}, Options{})
	log := slog.New(h).With("function", "f")
	for i := range maxPending + 10 {
		log.InfoContext(invocation(time.Duration(i).String()), "x")
	}
	if n := len(h.st.pending); n != maxPending {
		t.Errorf("pending outcomes = %d, want %d", n, maxPending)
	}
}
