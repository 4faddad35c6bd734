package worker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv/awsenvtest"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
)

const (
	sidParam   = "/crossfaas/dev/twilio/account-sid"
	tokenParam = "/crossfaas/dev/twilio/auth-token"
)

// setenv points every AWS client and Twilio/Wikipedia URL at the fakes, as
// the stack would at the real services.
func setenv(t *testing.T, cloud *awsfake.Cloud, tw *fakeTwilio, wikiURL string) {
	t.Helper()
	awsenvtest.Setenv(t, map[string]string{
		"REKOGNITION": cloud.URL(), "DYNAMODB": cloud.URL(), "SNS": cloud.URL(), "SSM": cloud.URL(),
	})
	for k, v := range map[string]string{
		sleuth.EnvPrefix:           prefix,
		sleuth.EnvResponsesTopic:   responsesTopic,
		sleuth.EnvIdempotencyTable: table,
		sleuth.EnvFunctionTimeout:  "10",
		sleuth.EnvAccountSIDParam:  sidParam,
		sleuth.EnvAuthTokenParam:   tokenParam,
		sleuth.EnvTwilioAPIURL:     tw.api.URL,
		sleuth.EnvWikipediaURL:     wikiURL,
		sleuth.EnvMatchThreshold:   "90",
		sleuth.EnvTwilioMediaHosts: "",
	} {
		t.Setenv(k, v)
	}
}

// TestHandlersFromEnv runs the whole worker side as the Lambdas build it
// at cold start: addcol, addimg and match jobs, their replies through
// respond, and an apology through failure.
func TestHandlersFromEnv(t *testing.T) {
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	cloud.DynamoDB.CreateTable(table)
	cloud.SNS.CreateTopic(responsesTopic)
	cloud.SSM.PutSecureString(sidParam, accountSID)
	cloud.SSM.PutSecureString(tokenParam, authToken)
	tw := newFakeTwilio(t)
	setenv(t, cloud, tw, newFakeWikipedia(t).URL)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)

	handlers := map[string]func(context.Context, events.SNSEvent) error{}
	for _, name := range []string{sleuth.HandlerAddCollection, sleuth.HandlerAddImage, sleuth.HandlerMatch, sleuth.HandlerRespond, sleuth.HandlerFailure} {
		before := cloud.SSM.Calls("GetParameter")
		h, err := worker.HandlerFromEnv(ctx, name, logger)
		if err != nil {
			t.Fatalf("HandlerFromEnv(%q) error = %v", name, err)
		}
		handlers[name] = h
		reads := cloud.SSM.Calls("GetParameter") - before
		if name == sleuth.HandlerAddCollection && reads != 0 {
			t.Errorf("HandlerFromEnv(addcol) read %d SSM parameters, want 0 (it has no use for Twilio)", reads)
		}
		if name != sleuth.HandlerAddCollection && reads != 2 {
			t.Errorf("HandlerFromEnv(%q) read %d SSM parameters, want 2", name, reads)
		}
	}

	addimg := withMedia(job(sleuth.VerbAddImage, "celebs"), tw, "mel", "image/jpeg")
	addimg.Name, addimg.MessageSid = "mel_gibson", "MM0002"
	matchJob := withMedia(job(sleuth.VerbMatch, "celebs"), tw, "mel", "image/jpeg")
	matchJob.MessageSid = "MM0003"
	addcol := job(sleuth.VerbAddCollection, "celebs")
	addcol.MessageSid = "MM0001"
	for _, j := range []sleuth.Job{addcol, addimg, matchJob} {
		if err := handlers[string(j.Command)](ctx, snsEvent(t, "topic-"+string(j.Command), j)); err != nil {
			t.Fatalf("%s handler error = %v", j.Command, err)
		}
	}
	if reqs := cloud.Rekognition.SearchRequests(); len(reqs) != 1 || reqs[0].FaceMatchThreshold != 90 {
		t.Errorf("searches = %+v, want one with the threshold of %s", reqs, sleuth.EnvMatchThreshold)
	}
	for _, p := range cloud.SNS.Published() {
		if err := handlers[sleuth.HandlerRespond](ctx, snsEvent(t, responsesTopic, p.Message)); err != nil {
			t.Fatalf("respond error = %v", err)
		}
	}
	if err := handlers[sleuth.HandlerFailure](ctx, snsEvent(t, "failures", destinationRecord)); err != nil {
		t.Fatalf("failure error = %v", err)
	}
	want := [][3]string{
		{botNumber, user, "Collection celebs was created."},
		{botNumber, user, "Picture of Mel Gibson added to collection celebs."},
		{botNumber, user, "Face matched Mel Gibson with 99.1% similarity.\n\n" + melBio},
		{botNumber, user, "Sorry, that failed. Please try again later."},
	}
	if got := tw.sent(); !equalSMS(got, want) {
		t.Errorf("SMS sent:\n%q\nwant\n%q", got, want)
	}
}

func TestHandlerFromEnvErrors(t *testing.T) {
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	cloud.SSM.PutSecureString(sidParam, accountSID) // but no auth token
	tw := newFakeTwilio(t)
	setenv(t, cloud, tw, "")
	ctx := context.Background()

	_, err := worker.HandlerFromEnv(ctx, sleuth.HandlerRespond, nil)
	if err == nil || !strings.Contains(err.Error(), tokenParam) {
		t.Errorf("HandlerFromEnv(respond) without the token parameter: error = %v, want one naming %s", err, tokenParam)
	}
	if _, err := worker.HandlerFromEnv(ctx, sleuth.HandlerRequest, nil); err == nil {
		t.Errorf("HandlerFromEnv(request) error = nil, want unknown handler")
	}
	t.Setenv(sleuth.EnvAuthTokenParam, "")
	_, err = worker.HandlerFromEnv(ctx, sleuth.HandlerMatch, nil)
	if err == nil || !strings.Contains(err.Error(), sleuth.EnvAuthTokenParam) {
		t.Errorf("HandlerFromEnv(match) without %s: error = %v, want one naming it", sleuth.EnvAuthTokenParam, err)
	}
	// addcol needs no Twilio credentials at all.
	if _, err := worker.HandlerFromEnv(ctx, sleuth.HandlerAddCollection, nil); err != nil {
		t.Errorf("HandlerFromEnv(addcol) without Twilio parameters: error = %v", err)
	}
}

// The reply a command publishes is exactly the sleuth.Reply JSON.
func TestReplyWireFormat(t *testing.T) {
	h := newHarness(t)
	if err := h.worker.Process(context.Background(), job(sleuth.VerbAddCollection, "celebs")); err != nil {
		t.Fatal(err)
	}
	published := h.cloud.SNS.Published()
	if len(published) != 1 {
		t.Fatalf("published %d messages, want 1", len(published))
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(published[0].Message), &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"messageSid": "MM0123", "step": "addcol", "from": botNumber, "to": user, "body": "Collection celebs was created."}
	if len(fields) != len(want) {
		t.Errorf("reply JSON = %v, want %v", fields, want)
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("reply JSON %q = %q, want %q", k, fields[k], v)
		}
	}
}
