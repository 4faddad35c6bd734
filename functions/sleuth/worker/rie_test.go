package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// TestBootstrapUnderRIE runs the real sleuth bootstrap, built as it
// deploys, under the Lambda Runtime Interface Emulator with the addimg,
// respond and failure handler settings, against the fakes.
func TestBootstrapUnderRIE(t *testing.T) {
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	cloud.DynamoDB.CreateTable(table)
	cloud.SNS.CreateTopic(responsesTopic)
	cloud.SSM.PutSecureString(sidParam, accountSID)
	cloud.SSM.PutSecureString(tokenParam, authToken)
	cloud.Rekognition.AddCollection(celebs)
	tw := newFakeTwilio(t)
	env := map[string]string{
		"AWS_ENDPOINT_URL_REKOGNITION": cloud.URL(),
		"AWS_ENDPOINT_URL_DYNAMODB":    cloud.URL(),
		"AWS_ENDPOINT_URL_SNS":         cloud.URL(),
		"AWS_ENDPOINT_URL_SSM":         cloud.URL(),
		"AWS_LAMBDA_LOG_FORMAT":        "JSON",
		sleuth.EnvPrefix:               prefix,
		sleuth.EnvResponsesTopic:       responsesTopic,
		sleuth.EnvIdempotencyTable:     table,
		sleuth.EnvFunctionTimeout:      "10",
		sleuth.EnvAccountSIDParam:      sidParam,
		sleuth.EnvAuthTokenParam:       tokenParam,
		sleuth.EnvTwilioAPIURL:         tw.api.URL,
	}
	start := func(handler string) *lambdatest.Function {
		return lambdatest.Start(t, lambdatest.Options{
			Package: "./functions/sleuth/bootstrap", Handler: handler, Env: env,
			Name: "crossfaas-dev-sleuth-" + handler,
		})
	}
	ctx := context.Background()

	addimg := start(sleuth.HandlerAddImage)
	j := withMedia(job(sleuth.VerbAddImage, "celebs"), tw, "mel", "image/jpeg")
	j.Name = "mel_gibson"
	jobJSON, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	event := lambdatest.SNSEvent("arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-addimg", string(jobJSON), map[string]string{"command": "addimg"})
	for i := range 2 { // SNS may deliver twice
		if _, err := addimg.Invoke(ctx, event); err != nil {
			t.Fatalf("addimg invocation #%d error = %v\n%s", i+1, err, addimg.Output())
		}
	}
	if n := cloud.Rekognition.Calls("IndexFaces"); n != 1 {
		t.Errorf("IndexFaces calls = %d, want 1", n)
	}
	if !strings.Contains(addimg.Output(), `"message":"job done"`) {
		t.Errorf("addimg output has no JSON \"job done\" record:\n%s", addimg.Output())
	}

	// A throttled Rekognition fails the invocation, so Lambda retries it.
	cloud.Rekognition.Inject("IndexFaces", "ThrottlingException", "ThrottlingException", "ThrottlingException", "ThrottlingException")
	j.MessageSid = "MM0456"
	jobJSON, _ = json.Marshal(j)
	_, err = addimg.Invoke(ctx, lambdatest.SNSEvent("arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-addimg", string(jobJSON), nil))
	var fnErr *lambdatest.FunctionError
	if !errors.As(err, &fnErr) || !strings.Contains(fnErr.Message, "ThrottlingException") {
		t.Errorf("addimg with Rekognition throttled: error = %v, want a function error naming ThrottlingException", err)
	}

	respond := start(sleuth.HandlerRespond)
	published := cloud.SNS.Published()
	if len(published) != 2 {
		t.Fatalf("published %d replies, want 2 (one per delivery)", len(published))
	}
	for _, p := range published {
		if _, err := respond.Invoke(ctx, lambdatest.SNSEvent(responsesTopic, p.Message, map[string]string{"step": "addimg"})); err != nil {
			t.Fatalf("respond invocation error = %v\n%s", err, respond.Output())
		}
	}

	failure := start(sleuth.HandlerFailure)
	if _, err := failure.Invoke(ctx, lambdatest.SNSEvent("arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-failures", destinationRecord, nil)); err != nil {
		t.Fatalf("failure invocation error = %v\n%s", err, failure.Output())
	}

	want := [][3]string{
		{botNumber, user, "Picture of Mel Gibson added to collection celebs."},
		{botNumber, user, "Sorry, that failed. Please try again later."},
	}
	if got := tw.sent(); !equalSMS(got, want) {
		t.Errorf("SMS sent = %q, want %q", got, want)
	}
}

// A bootstrap whose configuration is incomplete fails at cold start with a
// message naming what is missing.
func TestBootstrapUnderRIEMisconfigured(t *testing.T) {
	fn := lambdatest.Start(t, lambdatest.Options{
		Package: "./functions/sleuth/bootstrap", Handler: sleuth.HandlerMatch,
		Env: map[string]string{sleuth.EnvIdempotencyTable: table},
	})
	_, err := fn.Invoke(context.Background(), lambdatest.SNSEvent("topic", "{}", nil))
	var fnErr *lambdatest.FunctionError
	if !errors.As(err, &fnErr) || !strings.Contains(fn.Output(), sleuth.EnvPrefix) {
		t.Errorf("misconfigured match: error = %v, output:\n%s\nwant a failed start naming %s", err, fn.Output(), sleuth.EnvPrefix)
	}
}
