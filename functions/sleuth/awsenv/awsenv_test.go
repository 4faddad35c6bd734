package awsenv_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv/awsenvtest"
)

const topic = "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-addcol"

// loadConfig builds the aws.Config the way the Lambdas do, with the
// endpoints redirected through AWS_ENDPOINT_URL_<SERVICE>.
func loadConfig(t *testing.T, endpoints map[string]string) aws.Config {
	t.Helper()
	awsenvtest.Setenv(t, endpoints)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("config.LoadDefaultConfig() error = %v", err)
	}
	return cfg
}

func TestSNSPublisher(t *testing.T) {
	job, err := json.Marshal(sleuth.Job{Command: sleuth.VerbAddCollection, Collection: "celebs",
		From: "+15550001111", To: "+15550002222", MessageSid: "SM123"})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := json.Marshal(sleuth.Reply{MessageSid: "SM123", Step: "match", Body: "It's Mel Gibson"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		message []byte
		attrs   map[string]string
	}{
		{"job gets command attribute", job, map[string]string{"command": "addcol"}},
		{"reply gets step attribute", reply, map[string]string{"step": "match"}},
		{"both fields", []byte(`{"command":"match","step":"failure"}`), map[string]string{"command": "match", "step": "failure"}},
		{"empty field skipped", []byte(`{"command":"","step":7}`), map[string]string{}},
		{"not JSON", []byte("plain text & <xml> é"), map[string]string{}},
		{"JSON array", []byte(`["command"]`), map[string]string{}},
	}
	fake := awsenvtest.NewSNS(t, topic)
	pub := awsenv.NewSNSPublisher(sns.NewFromConfig(loadConfig(t, map[string]string{"SNS": fake.URL})))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := pub.Publish(context.Background(), topic, tt.message); err != nil {
				t.Fatalf("Publish(%q) error = %v", tt.message, err)
			}
			got := fake.Published()
			if len(got) != i+1 {
				t.Fatalf("fake SNS got %d messages, want %d", len(got), i+1)
			}
			last := got[i]
			if last.TopicARN != topic || last.Message != string(tt.message) {
				t.Errorf("published (%q, %q), want (%q, %q)", last.TopicARN, last.Message, topic, tt.message)
			}
			if !maps.Equal(last.Attributes, tt.attrs) {
				t.Errorf("published attributes %v, want %v", last.Attributes, tt.attrs)
			}
		})
	}
	if errs := fake.Errors(); len(errs) > 0 {
		t.Errorf("fake SNS saw malformed requests: %v", errs)
	}
}

func TestSNSPublisherErrors(t *testing.T) {
	fake := awsenvtest.NewSNS(t, topic)
	pub := awsenv.NewSNSPublisher(sns.NewFromConfig(loadConfig(t, map[string]string{"SNS": fake.URL})))
	ctx := context.Background()

	err := pub.Publish(ctx, topic+"-missing", []byte("x"))
	var notFound *snstypes.NotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("Publish(unknown topic) error = %v, want a NotFoundException", err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "sns publish to "+topic+"-missing: ") {
		t.Errorf("Publish(unknown topic) error = %q, want the op and topic as prefix", err.Error())
	}

	if err := pub.Publish(ctx, "", []byte("x")); err == nil {
		t.Errorf("Publish(empty topic) error = nil, want an error")
	}

	// One server error is retried by the SDK; the message then goes through once.
	fake.Fail("InternalError", 1)
	if err := pub.Publish(ctx, topic, []byte("retried")); err != nil {
		t.Errorf("Publish after one 500 error = %v, want the SDK to retry", err)
	}
	if got := fake.Published(); len(got) != 1 || got[0].Message != "retried" {
		t.Errorf("fake SNS got %+v, want the one retried message", got)
	}

	fake.Fail("AuthorizationError", 1)
	var authErr *snstypes.AuthorizationErrorException
	if err := pub.Publish(ctx, topic, []byte("denied")); !errors.As(err, &authErr) {
		t.Errorf("Publish(denied) error = %v, want an AuthorizationErrorException", err)
	}
	if got := len(fake.Published()); got != 1 {
		t.Errorf("fake SNS has %d messages after failures, want 1", got)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := pub.Publish(canceled, topic, []byte("late")); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish(canceled context) error = %v, want context.Canceled", err)
	}
}

func TestSecretsLoadTwilio(t *testing.T) {
	fake := awsenvtest.NewSSM(t, map[string]string{
		"/crossfaas/dev/twilio/account-sid": "AC0123456789abcdef0123456789abcdef",
		"/crossfaas/dev/twilio/auth-token":  "s3cr3t-token",
	})
	cfg := loadConfig(t, map[string]string{"SSM": fake.URL})
	t.Setenv(sleuth.EnvAccountSIDParam, "/crossfaas/dev/twilio/account-sid")
	t.Setenv(sleuth.EnvAuthTokenParam, "/crossfaas/dev/twilio/auth-token")
	secrets, err := awsenv.SecretsFromEnv(ssm.NewFromConfig(cfg))
	if err != nil {
		t.Fatalf("SecretsFromEnv() error = %v", err)
	}
	want := awsenv.TwilioCredentials{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "s3cr3t-token"}
	for range 3 {
		got, err := secrets.LoadTwilio(context.Background())
		if err != nil {
			t.Fatalf("LoadTwilio() error = %v", err)
		}
		if got != want {
			t.Fatalf("LoadTwilio() = %+v, want %+v", got, want)
		}
	}
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("fake SSM served %d requests, want 2 (values cached after the first load): %+v", len(reqs), reqs)
	}
	names := map[string]bool{}
	for _, r := range reqs {
		if !r.WithDecryption {
			t.Errorf("GetParameter(%q) without WithDecryption", r.Name)
		}
		names[r.Name] = true
	}
	if !names["/crossfaas/dev/twilio/account-sid"] || !names["/crossfaas/dev/twilio/auth-token"] {
		t.Errorf("fake SSM served %+v, want both parameters", reqs)
	}
	if errs := fake.Errors(); len(errs) > 0 {
		t.Errorf("fake SSM saw malformed requests: %v", errs)
	}
}

func TestSecretsErrors(t *testing.T) {
	fake := awsenvtest.NewSSM(t, map[string]string{"sid": "AC1", "token": "t", "blank": ""})
	client := ssm.NewFromConfig(loadConfig(t, map[string]string{"SSM": fake.URL}))
	ctx := context.Background()

	_, err := awsenv.NewSecrets(client, "sid", "missing").LoadTwilio(ctx)
	var notFound *ssmtypes.ParameterNotFound
	if !errors.As(err, &notFound) || !strings.Contains(err.Error(), "ssm get parameter missing: ") {
		t.Errorf("LoadTwilio(missing token) error = %v, want a ParameterNotFound naming the parameter", err)
	}

	_, err = awsenv.NewSecrets(client, "blank", "token").LoadTwilio(ctx)
	if err == nil || err.Error() != "ssm get parameter blank: empty value" {
		t.Errorf("LoadTwilio(blank sid) error = %v, want %q", err, "ssm get parameter blank: empty value")
	}

	// A failure is not cached: once the parameter exists, the same Secrets loads.
	later := awsenvtest.NewSSM(t, map[string]string{"sid": "AC1"})
	secrets := awsenv.NewSecrets(ssm.NewFromConfig(loadConfig(t, map[string]string{"SSM": later.URL})), "sid", "token")
	if _, err := secrets.LoadTwilio(ctx); err == nil {
		t.Fatalf("LoadTwilio() before the token exists: error = nil")
	}
	later.Set("token", "now-there")
	got, err := secrets.LoadTwilio(ctx)
	if err != nil || got.AuthToken != "now-there" {
		t.Errorf("LoadTwilio() after the token appeared = %+v, %v, want the token", got, err)
	}

	t.Setenv(sleuth.EnvAccountSIDParam, "sid")
	t.Setenv(sleuth.EnvAuthTokenParam, "")
	if _, err := awsenv.SecretsFromEnv(client); err == nil || !strings.Contains(err.Error(), sleuth.EnvAuthTokenParam) {
		t.Errorf("SecretsFromEnv() without %s: error = %v, want it to name the variable", sleuth.EnvAuthTokenParam, err)
	}
}
