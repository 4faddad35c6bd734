package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/infra/sleuthbot"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv"
	"github.com/crossfaas/crossfaas/functions/sleuth/request"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
)

// Type tokens of the resources only the SMS bot creates.
const (
	typeSleuth       = "crossfaas:aws:Sleuth"
	typeTopic        = "aws:sns/topic:Topic"
	typeSubscription = "aws:sns/topicSubscription:TopicSubscription"
	typeQueue        = "aws:sqs/queue:Queue"
	typeQueuePolicy  = "aws:sqs/queuePolicy:QueuePolicy"
	typeInvokeConfig = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
	typeTable        = "aws:dynamodb/table:Table"
	typeParameter    = "aws:ssm/parameter:Parameter"
	typeCollection   = "aws:rekognition/collection:Collection"
)

// sleuthHandlers are the bot's Lambdas; all but the request handler are
// invoked by the SNS topic in sleuthTriggers.
var (
	sleuthHandlers = []string{
		sleuth.HandlerRequest, sleuth.HandlerAddCollection, sleuth.HandlerAddImage,
		sleuth.HandlerMatch, sleuth.HandlerRespond, sleuth.HandlerFailure,
	}
	sleuthTriggers = map[string]string{
		sleuth.HandlerAddCollection: sleuthbot.TopicAddCollection,
		sleuth.HandlerAddImage:      sleuthbot.TopicAddImage,
		sleuth.HandlerMatch:         sleuthbot.TopicMatch,
		sleuth.HandlerRespond:       sleuthbot.TopicResponses,
		sleuth.HandlerFailure:       sleuthbot.TopicFailures,
	}
)

// sleuthStack is a finished run with lookups of the bot's resources.
type sleuthStack struct {
	*stackRun
	t *testing.T
}

func runSleuthStack(t *testing.T, stack string, cfg map[string]string) sleuthStack {
	t.Helper()
	return sleuthStack{stackRun: mustRunStack(t, stack, cfg, fixtures(fixtureArtifacts(t, "l", "p"))), t: t}
}

func (s sleuthStack) function(handler string) recorded {
	s.t.Helper()
	return s.mocks.named(s.t, typeLambda, "sleuth-"+handler+"-function")
}

func (s sleuthStack) topicArn(key string) string {
	s.t.Helper()
	return s.mocks.named(s.t, typeTopic, "sleuth-"+key+"-topic").Outputs["arn"].(string)
}

func (s sleuthStack) queue(name string) recorded {
	s.t.Helper()
	return s.mocks.named(s.t, typeQueue, name)
}

func (s sleuthStack) parameterName(key string) string {
	s.t.Helper()
	return s.mocks.named(s.t, typeParameter, "sleuth-twilio-"+key).Inputs["name"].(string)
}

// permissions parses the inline policy of handler's role into action ->
// sorted resources, failing on anything but Allow statements.
func (s sleuthStack) permissions(handler string) map[string][]string {
	s.t.Helper()
	role := s.mocks.named(s.t, typeRole, "sleuth-"+handler+"-role")
	for _, p := range s.mocks.all(typeRolePolicy) {
		if p.Inputs["role"] == role.ID {
			return parsePolicy(s.t, p.Inputs["policy"].(string))
		}
	}
	s.t.Fatalf("role %s has no inline policy", role.ID)
	return nil
}

// parsePolicy turns an IAM policy of Allow statements into action ->
// sorted resources.
func parsePolicy(t *testing.T, policy string) map[string][]string {
	t.Helper()
	var doc struct {
		Version   string
		Statement []struct {
			Effect    string
			Action    any
			Resource  any
			Condition any
		}
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatalf("policy %s: %v", policy, err)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("policy version = %q, want 2012-10-17", doc.Version)
	}
	perms := map[string][]string{}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" || st.Condition != nil {
			t.Errorf("policy statement %+v, want a plain Allow", st)
		}
		for _, action := range policyStrings(t, st.Action) {
			perms[action] = append(perms[action], policyStrings(t, st.Resource)...)
		}
	}
	for action := range perms {
		slices.Sort(perms[action])
		perms[action] = slices.Compact(perms[action])
	}
	return perms
}

// policyStrings reads an IAM Action or Resource, a string or a list of
// them.
func policyStrings(t *testing.T, v any) []string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				t.Fatalf("policy element %#v is not a string", e)
			}
			out[i] = s
		}
		return out
	}
	t.Fatalf("policy element %#v is neither a string nor a list", v)
	return nil
}

func TestSleuthFunctions(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	workerSum := sha256.Sum256([]byte(fixtureSleuthZip))
	requestSum := sha256.Sum256([]byte(fixtureSleuthRequestZip))

	for _, handler := range sleuthHandlers {
		t.Run(handler, func(t *testing.T) {
			fn := s.function(handler)
			memory, timeout := defaultSleuthWorkerMemoryMB, defaultSleuthWorkerTimeoutSeconds
			sum, zip := workerSum, "/sleuth.zip"
			if handler == sleuth.HandlerRequest {
				memory, timeout = defaultSleuthRequestMemoryMB, defaultSleuthRequestTimeoutSeconds
				sum, zip = requestSum, "/sleuth-request.zip"
			}
			name := "crossfaas-dev-sleuth-" + handler
			for _, c := range []struct {
				path string
				want any
			}{
				{"name", name},
				{"handler", handler},
				{"runtime", "provided.al2023"},
				{"architectures", []any{"arm64"}},
				{"memorySize", float64(memory)},
				{"timeout", float64(timeout)},
				{"sourceCodeHash", base64.StdEncoding.EncodeToString(sum[:])},
				{"role", s.mocks.named(t, typeRole, "sleuth-"+handler+"-role").Outputs["arn"]},
				{"loggingConfig.logFormat", "JSON"},
				{"loggingConfig.logGroup", "/aws/lambda/" + name},
			} {
				if got := get(fn.Inputs, c.path); !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s Lambda %s = %#v, want %#v", handler, c.path, got, c.want)
				}
			}
			// One zip for the SNS-triggered Lambdas, a lean one for the
			// webhook; the path below the fixture's temporary directory.
			if code, ok := fn.Inputs["code"].(*archive.Archive); !ok || !strings.HasSuffix(code.Path, zip) {
				t.Errorf("%s Lambda code = %#v, want %s", handler, fn.Inputs["code"], zip)
			}
			logs := s.mocks.named(t, typeLogGroup, "sleuth-"+handler+"-logs")
			if got := logs.Inputs["retentionInDays"]; got != float64(defaultLogRetentionDays) {
				t.Errorf("%s log retention = %v, want %d", handler, got, defaultLogRetentionDays)
			}
		})
	}
	if timeout := defaultSleuthRequestTimeoutSeconds; timeout >= 15 {
		t.Errorf("request Lambda timeout %d s, want it well within the 15 s Twilio waits", timeout)
	}
}

// TestSleuthEnvironment checks each Lambda gets exactly the variables its
// handler reads, with the values the stack created.
func TestSleuthEnvironment(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	table := s.mocks.one(t, typeTable).Inputs["name"]
	secrets := map[string]any{
		sleuth.EnvAccountSIDParam: "/crossfaas-dev/twilio/account-sid",
		sleuth.EnvAuthTokenParam:  "/crossfaas-dev/twilio/auth-token",
	}
	union := func(ms ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			maps.Copy(out, m)
		}
		return out
	}
	ledgerEnv := map[string]any{sleuth.EnvIdempotencyTable: table, sleuth.EnvFunctionTimeout: "60"}
	command := union(ledgerEnv, map[string]any{
		sleuth.EnvPrefix:         "crossfaas-dev",
		sleuth.EnvResponsesTopic: s.topicArn(sleuthbot.TopicResponses),
	})
	want := map[string]map[string]any{
		sleuth.HandlerRequest: union(map[string]any{
			sleuth.EnvAuthTokenParam:      "/crossfaas-dev/twilio/auth-token",
			sleuth.EnvAllowedSendersParam: "/crossfaas-dev/sleuth/allowed-senders",
			sleuth.EnvAddCollectionTopic:  s.topicArn(sleuthbot.TopicAddCollection),
			sleuth.EnvAddImageTopic:       s.topicArn(sleuthbot.TopicAddImage),
			sleuth.EnvMatchTopic:          s.topicArn(sleuthbot.TopicMatch),
		}),
		sleuth.HandlerAddCollection: command,
		sleuth.HandlerAddImage:      union(command, secrets),
		sleuth.HandlerMatch:         union(command, secrets, map[string]any{sleuth.EnvMatchThreshold: "85"}),
		sleuth.HandlerRespond:       union(secrets, ledgerEnv),
		sleuth.HandlerFailure:       union(secrets, ledgerEnv),
	}
	if table != "crossfaas-dev-sleuth-idempotency" {
		t.Errorf("table name = %v, want crossfaas-dev-sleuth-idempotency", table)
	}
	for _, handler := range sleuthHandlers {
		got := get(s.function(handler).Inputs, "environment.variables")
		if !reflect.DeepEqual(got, want[handler]) {
			t.Errorf("%s environment = %v, want %v", handler, got, want[handler])
		}
	}
}

// TestSleuthEnvironmentSatisfiesTheHandlers hands each Lambda's
// environment to the configuration readers its handler runs at cold start.
func TestSleuthEnvironmentSatisfiesTheHandlers(t *testing.T) {
	cfg := testConfig()
	cfg["crossfaas:allowedSenders"] = `["+15551234567","+15557654321"]`
	s := runSleuthStack(t, "dev", cfg)
	for _, handler := range sleuthHandlers {
		t.Run(handler, func(t *testing.T) {
			// Only what the stack sets: nothing inherited from the test's
			// environment.
			for _, env := range []string{
				sleuth.EnvPrefix, sleuth.EnvAddCollectionTopic, sleuth.EnvAddImageTopic, sleuth.EnvMatchTopic,
				sleuth.EnvResponsesTopic, sleuth.EnvIdempotencyTable, sleuth.EnvAccountSIDParam, sleuth.EnvAuthTokenParam,
				sleuth.EnvAllowedSendersParam, sleuth.EnvFunctionTimeout, sleuth.EnvMatchThreshold, sleuth.EnvWebhookURL, sleuth.EnvTwilioAPIURL,
				sleuth.EnvTwilioMediaHosts, sleuth.EnvWikipediaURL,
			} {
				t.Setenv(env, "")
				os.Unsetenv(env)
			}
			vars, _ := get(s.function(handler).Inputs, "environment.variables").(map[string]any)
			for k, v := range vars {
				t.Setenv(k, v.(string))
			}
			if handler == sleuth.HandlerRequest {
				rc, err := request.ConfigFromEnv()
				if err != nil {
					t.Fatalf("request.ConfigFromEnv() with the stack's environment: %v", err)
				}
				if rc.AllowedSenders != nil {
					t.Errorf("request AllowedSenders from the environment = %q, want none: they are read from SSM", rc.AllowedSenders)
				}
				if got, want := rc.Topics[sleuth.VerbMatch], s.topicArn(sleuthbot.TopicMatch); got != want {
					t.Errorf("request match topic = %q, want %q", got, want)
				}
			} else {
				wc, err := worker.ConfigFromEnv(handler)
				if err != nil {
					t.Fatalf("worker.ConfigFromEnv(%q) with the stack's environment: %v", handler, err)
				}
				if wc.Threshold != defaultMatchThreshold {
					t.Errorf("worker threshold = %v, want %v", wc.Threshold, defaultMatchThreshold)
				}
			}
			// Every handler but addcol and request (which reads only the auth
			// token, checked above by ConfigFromEnv) reads the Twilio
			// credentials.
			_, err := awsenv.SecretsFromEnv(ssm.New(ssm.Options{Region: "us-east-1"}))
			if wantErr := handler == sleuth.HandlerAddCollection || handler == sleuth.HandlerRequest; (err != nil) != wantErr {
				t.Errorf("awsenv.SecretsFromEnv() error = %v, want an error: %v", err, wantErr)
			}
		})
	}
}

// TestSleuthSecretsStayInSSM checks the Twilio credentials appear in the
// two SecureString parameters and nowhere else: not in a Lambda's
// environment, any other resource or a stack output.
func TestSleuthSecretsStayInSSM(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	params := map[string]string{"account-sid": testAccountSID, "auth-token": testAuthToken}
	for key, value := range params {
		p := s.mocks.named(t, typeParameter, "sleuth-twilio-"+key)
		if got, want := p.Inputs["name"], "/crossfaas-dev/twilio/"+key; got != want {
			t.Errorf("parameter name = %v, want %v", got, want)
		}
		if got := p.Inputs["type"]; got != "SecureString" {
			t.Errorf("parameter %s type = %v, want SecureString", key, got)
		}
		if p.Inputs["value"] != value {
			t.Errorf("parameter %s does not hold the configured secret", key)
		}
		if !p.SecretInputs["value"] {
			t.Errorf("parameter %s value is not a Pulumi secret: the state would hold it in plain text", key)
		}
		if p.Inputs["keyId"] != nil {
			t.Errorf("parameter %s keyId = %v, want the default aws/ssm key (the roles have no kms:Decrypt)", key, p.Inputs["keyId"])
		}
	}
	for _, r := range s.mocks.snapshot() {
		if r.Type == typeParameter {
			continue
		}
		text := fmt.Sprintf("%v %v", r.Inputs, r.Outputs)
		for key, value := range params {
			if strings.Contains(text, value) {
				t.Errorf("%s %s holds the Twilio %s", r.Type, r.Name, key)
			}
		}
	}
	text := fmt.Sprint(s.outputs)
	for key, value := range params {
		if strings.Contains(text, value) {
			t.Errorf("the stack outputs hold the Twilio %s", key)
		}
	}
}
