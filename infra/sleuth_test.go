package main

import (
	"context"
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
	"time"

	"github.com/crossfaas/crossfaas/infra/sleuthbot"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv"
	"github.com/crossfaas/crossfaas/functions/sleuth/ledger"
	"github.com/crossfaas/crossfaas/functions/sleuth/request"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
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

// TestSleuthRolePolicies checks every role of the stack is scoped: no
// wildcard action, no Resource "*", and each sleuth function allowed
// exactly the calls its handler makes, on exactly its resources.
func TestSleuthRolePolicies(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	collections := "arn:aws:rekognition:us-east-1:" + mockAccount + ":collection/crossfaas-dev.*"

	// Every role of the stack, the proxy's and the cleanup's included; the uploads roles,
	// whose S3 resources are prefixes, have tests of their own
	// (uploads_test.go).
	var policies []recorded
	for _, p := range s.mocks.all(typeRolePolicy) {
		if !strings.HasPrefix(p.Name, "uploads-") {
			policies = append(policies, p)
		}
	}
	if len(policies) != 2+len(sleuthHandlers) {
		t.Errorf("the stack has %d role policies, want %d", len(policies), 2+len(sleuthHandlers))
	}
	for _, p := range policies {
		for action, resources := range parsePolicy(t, p.Inputs["policy"].(string)) {
			if strings.Contains(action, "*") || !strings.Contains(action, ":") {
				t.Errorf("policy %s allows the action %q, want one service:Action without wildcards", p.Name, action)
			}
			for _, r := range resources {
				switch {
				case r == "*" && action == "rekognition:ListCollections":
					// ListCollections has no resource-level permission;
					// the cleanup may delete only the stack's own.
				case r == "*":
					t.Errorf("policy %s allows %s on Resource \"*\"", p.Name, action)
				case !strings.HasPrefix(r, "arn:aws:"):
					t.Errorf("policy %s resource %q of %s is not an ARN", p.Name, r, action)
				case strings.Contains(r, "*") && !(strings.HasPrefix(action, "logs:") && strings.HasSuffix(r, ":*")) && r != collections:
					t.Errorf("policy %s resource %q of %s has a wildcard, want log streams or the stack's collections only", p.Name, r, action)
				}
			}
		}
	}

	logs := func(handler string) []string {
		arn := s.mocks.named(t, typeLogGroup, "sleuth-"+handler+"-logs").Outputs["arn"].(string)
		return []string{arn + ":*"}
	}
	sorted := func(v ...string) []string { slices.Sort(v); return v }
	table := []string{s.mocks.one(t, typeTable).Outputs["arn"].(string)}
	params := sorted(
		s.mocks.named(t, typeParameter, "sleuth-twilio-account-sid").Outputs["arn"].(string),
		s.mocks.named(t, typeParameter, "sleuth-twilio-auth-token").Outputs["arn"].(string),
	)
	if want := "arn:aws:ssm:us-east-1:" + mockAccount + ":parameter/crossfaas-dev/twilio/auth-token"; !slices.Contains(params, want) {
		t.Errorf("parameter ARNs = %v, want %s among them", params, want)
	}
	ledger := func(perms map[string][]string) map[string][]string {
		for _, a := range sleuthbot.LedgerActions {
			perms[a] = table
		}
		return perms
	}
	responsesAndFailures := sorted(s.topicArn(sleuthbot.TopicResponses), s.topicArn(sleuthbot.TopicFailures))
	want := map[string]map[string][]string{
		sleuth.HandlerRequest: {
			"sns:Publish": sorted(s.topicArn(sleuthbot.TopicAddCollection), s.topicArn(sleuthbot.TopicAddImage), s.topicArn(sleuthbot.TopicMatch)),
			"ssm:GetParameters": sorted(s.mocks.named(t, typeParameter, "sleuth-twilio-auth-token").Outputs["arn"].(string),
				s.mocks.named(t, typeParameter, "sleuth-allowed-senders").Outputs["arn"].(string)),
		},
		sleuth.HandlerAddCollection: ledger(map[string][]string{
			"sns:Publish":                    responsesAndFailures,
			"rekognition:CreateCollection":   {collections},
			"rekognition:DescribeCollection": {collections},
		}),
		sleuth.HandlerAddImage: ledger(map[string][]string{
			"sns:Publish":            responsesAndFailures,
			"ssm:GetParameter":       params,
			"rekognition:IndexFaces": {collections},
			"rekognition:ListFaces":  {collections},
		}),
		sleuth.HandlerMatch: ledger(map[string][]string{
			"sns:Publish":                    responsesAndFailures,
			"ssm:GetParameter":               params,
			"rekognition:SearchFacesByImage": {collections},
		}),
		sleuth.HandlerRespond: ledger(map[string][]string{
			"sqs:SendMessage":  {s.queue("sleuth-failed").Outputs["arn"].(string)},
			"ssm:GetParameter": params,
		}),
		sleuth.HandlerFailure: ledger(map[string][]string{
			"sqs:SendMessage":  {s.queue("sleuth-failed").Outputs["arn"].(string)},
			"ssm:GetParameter": params,
		}),
	}
	for _, handler := range sleuthHandlers {
		w := want[handler]
		w["logs:CreateLogStream"] = logs(handler)
		w["logs:PutLogEvents"] = logs(handler)
		if got := s.permissions(handler); !reflect.DeepEqual(got, w) {
			t.Errorf("%s role allows %v, want %v", handler, got, w)
		}
	}
}

// TestSleuthSubscriptions checks each topic invokes its Lambda, with a
// dead-letter queue only that topic may send to.
func TestSleuthSubscriptions(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	// One subscription per triggered Lambda, plus the failed queue's.
	if n := len(s.mocks.all(typeSubscription)); n != len(sleuthTriggers)+1 {
		t.Errorf("the stack has %d subscriptions, want %d", n, len(sleuthTriggers)+1)
	}
	queuesUsed := map[string]bool{}
	for _, sub := range s.mocks.all(typeSubscription) {
		var redrive struct{ DeadLetterTargetArn string }
		raw, _ := sub.Inputs["redrivePolicy"].(string)
		if err := json.Unmarshal([]byte(raw), &redrive); err != nil || !strings.HasPrefix(redrive.DeadLetterTargetArn, "arn:aws:sqs:") {
			t.Errorf("subscription %s redrivePolicy = %q, want one naming an SQS queue ARN (err %v)", sub.Name, raw, err)
			continue
		}
		queuesUsed[redrive.DeadLetterTargetArn] = true
	}
	if len(queuesUsed) != len(sleuthTriggers)+1 {
		t.Errorf("subscriptions share dead-letter queues: %v", queuesUsed)
	}

	// Every exhausted failure is also kept in the failed queue, for an
	// operator, whatever the failure Lambda manages to do with it.
	failedSub := s.mocks.named(t, typeSubscription, "sleuth-failed-subscription")
	failedArn := s.queue("sleuth-failed").Outputs["arn"]
	for _, c := range []struct {
		path string
		want any
	}{
		{"topic", s.topicArn(sleuthbot.TopicFailures)},
		{"protocol", "sqs"},
		{"endpoint", failedArn},
		{"rawMessageDelivery", true},
	} {
		if got := get(failedSub.Inputs, c.path); got != c.want {
			t.Errorf("failed queue subscription %s = %v, want %v", c.path, got, c.want)
		}
	}

	for handler, topic := range sleuthTriggers {
		t.Run(handler, func(t *testing.T) {
			topicArn := s.topicArn(topic)
			sub := s.mocks.named(t, typeSubscription, "sleuth-"+handler+"-subscription")
			fn := s.function(handler)
			for _, c := range []struct {
				what      string
				got, want any
			}{
				{"topic", sub.Inputs["topic"], topicArn},
				{"protocol", sub.Inputs["protocol"], "lambda"},
				{"endpoint", sub.Inputs["endpoint"], fn.Outputs["arn"]},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s subscription %s = %#v, want %#v", handler, c.what, c.got, c.want)
				}
			}

			dlq := s.queue("sleuth-" + handler + "-dlq")
			var redrive struct{ DeadLetterTargetArn string }
			_ = json.Unmarshal([]byte(sub.Inputs["redrivePolicy"].(string)), &redrive)
			if redrive.DeadLetterTargetArn != dlq.Outputs["arn"] {
				t.Errorf("%s dead-letter target = %q, want %v", handler, redrive.DeadLetterTargetArn, dlq.Outputs["arn"])
			}
			if got, want := dlq.Inputs["name"], "crossfaas-dev-sleuth-"+topic+"-dlq"; got != want {
				t.Errorf("%s dead-letter queue name = %v, want %v", handler, got, want)
			}
			if got := dlq.Inputs["messageRetentionSeconds"]; got != float64(14*24*3600) {
				t.Errorf("%s dead-letter retention = %v, want 14 days", handler, got)
			}
			if dlq.Inputs["sqsManagedSseEnabled"] != true {
				t.Errorf("%s dead-letter queue is not encrypted", handler)
			}

			policy := s.mocks.named(t, typeQueuePolicy, "sleuth-"+handler+"-dlq-policy")
			if policy.Inputs["queueUrl"] != dlq.Outputs["url"] {
				t.Errorf("%s queue policy is on %v, want %v", handler, policy.Inputs["queueUrl"], dlq.Outputs["url"])
			}
			var doc struct {
				Statement []struct {
					Effect    string
					Principal map[string]string
					Action    string
					Resource  string
					Condition map[string]map[string]string
				}
			}
			if err := json.Unmarshal([]byte(policy.Inputs["policy"].(string)), &doc); err != nil {
				t.Fatalf("%s queue policy: %v", handler, err)
			}
			st := doc.Statement
			if len(st) != 1 || st[0].Effect != "Allow" || st[0].Principal["Service"] != "sns.amazonaws.com" ||
				st[0].Action != "sqs:SendMessage" || st[0].Resource != dlq.Outputs["arn"] ||
				st[0].Condition["ArnEquals"]["aws:SourceArn"] != topicArn {
				t.Errorf("%s queue policy = %+v, want sns.amazonaws.com allowed sqs:SendMessage to the queue for %s only", handler, st, topicArn)
			}
		})
	}
}

// TestSleuthSNSPermissions checks each topic may invoke its own Lambda
// and no other.
func TestSleuthSNSPermissions(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	var fromSNS []recorded
	for _, p := range s.mocks.all(typePermission) {
		if p.Inputs["principal"] == "sns.amazonaws.com" {
			fromSNS = append(fromSNS, p)
		}
	}
	if len(fromSNS) != len(sleuthTriggers) {
		t.Errorf("%d permissions for SNS, want %d", len(fromSNS), len(sleuthTriggers))
	}
	for handler, topic := range sleuthTriggers {
		p := s.mocks.named(t, typePermission, "sleuth-"+handler+"-sns-permission")
		want := map[string]any{
			"action":    "lambda:InvokeFunction",
			"function":  "crossfaas-dev-sleuth-" + handler,
			"principal": "sns.amazonaws.com",
			"sourceArn": s.topicArn(topic),
		}
		for k, v := range want {
			if p.Inputs[k] != v {
				t.Errorf("%s permission %s = %v, want %v", handler, k, p.Inputs[k], v)
			}
		}
	}
}

// TestSleuthInvokeConfigs checks the SNS-triggered Lambdas hand an event
// whose retries are exhausted to a destination: the failures topic, or for
// the failure Lambda an SQS queue.
func TestSleuthInvokeConfigs(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	var configs []recorded
	for _, c := range s.mocks.all(typeInvokeConfig) {
		if strings.HasPrefix(c.Name, "sleuth-") {
			configs = append(configs, c)
		}
	}
	if len(configs) != len(sleuthTriggers) {
		t.Errorf("%d event invoke configs, want %d (none for the request Lambda)", len(configs), len(sleuthTriggers))
	}
	failed := s.queue("sleuth-failed")
	if got := failed.Inputs["messageRetentionSeconds"]; got != float64(14*24*3600) {
		t.Errorf("failed queue retention = %v, want 14 days", got)
	}
	for handler := range sleuthTriggers {
		c := s.mocks.named(t, typeInvokeConfig, "sleuth-"+handler+"-invoke-config")
		want := any(s.topicArn(sleuthbot.TopicFailures))
		if handler == sleuth.HandlerFailure || handler == sleuth.HandlerRespond {
			// Neither can apologise by SMS for its own failure.
			want = failed.Outputs["arn"]
		}
		for _, check := range []struct {
			path string
			want any
		}{
			{"functionName", "crossfaas-dev-sleuth-" + handler},
			{"maximumRetryAttempts", float64(2)},
			{"destinationConfig.onFailure.destination", want},
		} {
			if got := get(c.Inputs, check.path); got != check.want {
				t.Errorf("%s invoke config %s = %v, want %v", handler, check.path, got, check.want)
			}
		}
	}
}

func TestSleuthIdempotencyTable(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	table := s.mocks.one(t, typeTable)
	for _, c := range []struct {
		path string
		want any
	}{
		{"name", "crossfaas-dev-sleuth-idempotency"},
		{"billingMode", "PAY_PER_REQUEST"},
		{"hashKey", "pk"},
		{"rangeKey", nil},
		{"attributes", []any{map[string]any{"name": "pk", "type": "S"}}},
		{"ttl", map[string]any{"attributeName": "expiresAt", "enabled": true}},
	} {
		if got := get(table.Inputs, c.path); !reflect.DeepEqual(got, c.want) {
			t.Errorf("table %s = %#v, want %#v", c.path, got, c.want)
		}
	}
}

func TestSleuthWebhookRoute(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	api := s.mocks.one(t, typeAPI)
	fn := s.function(sleuth.HandlerRequest)
	route := s.mocks.named(t, typeRoute, "sleuth-sms-route")
	integration := s.mocks.named(t, typeIntegration, "sleuth-sms-integration")
	permission := s.mocks.named(t, typePermission, "sleuth-sms-permission")
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"route key", route.Inputs["routeKey"], "POST /sms"},
		{"route api", route.Inputs["apiId"], api.ID},
		{"route target", route.Inputs["target"], "integrations/" + integration.ID},
		{"integration type", integration.Inputs["integrationType"], "AWS_PROXY"},
		{"integration payload", integration.Inputs["payloadFormatVersion"], "2.0"},
		{"integration uri", integration.Inputs["integrationUri"], fn.Outputs["invokeArn"]},
		{"permission principal", permission.Inputs["principal"], "apigateway.amazonaws.com"},
		{"permission function", permission.Inputs["function"], "crossfaas-dev-sleuth-request"},
		{"permission sourceArn", permission.Inputs["sourceArn"], api.Outputs["executionArn"].(string) + "/*/POST/sms"},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	stage := s.mocks.one(t, typeStage)
	want := strings.TrimSuffix(stage.Outputs["invokeUrl"].(string), "/") + "/sms"
	if got := s.outputs["smsWebhookUrl"]; got != want {
		t.Errorf("output smsWebhookUrl = %v, want %v", got, want)
	}
	if n := len(s.mocks.all(typeAPI)); n != 1 {
		t.Errorf("%d HTTP APIs, want 1: the bot shares the proxy's", n)
	}
}

// TestSleuthStagesDoNotCollide checks collection ids, parameter paths and
// IAM scopes carry the stage.
func TestSleuthStagesDoNotCollide(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		s := runSleuthStack(t, stack, testConfig())
		prefix := "crossfaas-" + stack
		collection := s.mocks.one(t, typeCollection)
		if got, want := collection.Inputs["collectionId"], prefix+".celebs"; got != want {
			t.Errorf("stack %s: collection id = %v, want %v", stack, got, want)
		}
		if got, want := s.parameterName("auth-token"), "/"+prefix+"/twilio/auth-token"; got != want {
			t.Errorf("stack %s: auth token parameter = %v, want %v", stack, got, want)
		}
		got := s.permissions(sleuth.HandlerMatch)["rekognition:SearchFacesByImage"]
		want := []string{"arn:aws:rekognition:us-east-1:" + mockAccount + ":collection/" + prefix + ".*"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stack %s: match may search %v, want %v", stack, got, want)
		}
		if env := get(s.function(sleuth.HandlerAddCollection).Inputs, "environment.variables."+sleuth.EnvPrefix); env != prefix {
			t.Errorf("stack %s: %s = %v, want %v", stack, sleuth.EnvPrefix, env, prefix)
		}
		// The collection the stack creates is one the handlers may use.
		if id := collection.Inputs["collectionId"].(string); !strings.HasPrefix(id, prefix+".") {
			t.Errorf("stack %s: collection %s is outside the role's scope", stack, id)
		}
	}
}

func TestSleuthResourcesAreTaggedAndParented(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	comp := s.mocks.one(t, typeSleuth)
	wantTags := map[string]any{"project": "crossfaas", "stack": "dev"}
	tagged := map[string]bool{typeTopic: true, typeQueue: true, typeTable: true, typeParameter: true, typeCollection: true, typeLambda: true, typeRole: true, typeLogGroup: true}
	n := 0
	for _, r := range s.mocks.snapshot() {
		if !strings.HasPrefix(r.Name, "sleuth-") {
			continue
		}
		n++
		// A function's resources belong to its GoLambda, which belongs to
		// the Sleuth component.
		if !strings.HasSuffix(r.Parent, "::"+typeSleuth+"::"+comp.Name) && !strings.Contains(r.Parent, "::"+typeSleuth+"$crossfaas:aws:GoLambda::") {
			t.Errorf("%s %s has parent %q, want the Sleuth component or one of its GoLambdas", r.Type, r.Name, r.Parent)
		}
		if tagged[r.Type] && !reflect.DeepEqual(r.Inputs["tags"], wantTags) {
			t.Errorf("%s %s tags = %v, want %v", r.Type, r.Name, r.Inputs["tags"], wantTags)
		}
	}
	if n < 40 {
		t.Errorf("only %d resources named sleuth-*, want the whole bot", n)
	}
}

// TestSleuthSettings checks the crossfaas:* settings of the bot reach its
// resources.
func TestSleuthSettings(t *testing.T) {
	cfg := testConfig()
	for k, v := range map[string]string{
		"crossfaas:sleuthRequestMemoryMb":       "256",
		"crossfaas:sleuthRequestTimeoutSeconds": "12",
		"crossfaas:sleuthWorkerMemoryMb":        "1024",
		"crossfaas:sleuthWorkerTimeoutSeconds":  "300",
		"crossfaas:matchThreshold":              "92.5",
		"crossfaas:allowedSenders":              "+15551234567, +15557654321",
		"crossfaas:logRetentionDays":            "30",
	} {
		cfg[k] = v
	}
	s := runSleuthStack(t, "prod", cfg)
	request, match := s.function(sleuth.HandlerRequest), s.function(sleuth.HandlerMatch)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"request memory", request.Inputs["memorySize"], float64(256)},
		{"request timeout", request.Inputs["timeout"], float64(12)},
		{"match memory", match.Inputs["memorySize"], float64(1024)},
		{"match timeout", match.Inputs["timeout"], float64(300)},
		{"failure timeout", s.function(sleuth.HandlerFailure).Inputs["timeout"], float64(300)},
		{"match's claims follow its timeout", get(match.Inputs, "environment.variables."+sleuth.EnvFunctionTimeout), "300"},
		{"respond's claims follow its timeout", get(s.function(sleuth.HandlerRespond).Inputs, "environment.variables."+sleuth.EnvFunctionTimeout), "300"},
		{"threshold", get(match.Inputs, "environment.variables."+sleuth.EnvMatchThreshold), "92.5"},
		{"allowed senders", s.mocks.named(t, typeParameter, "sleuth-allowed-senders").Inputs["value"], "+15551234567,+15557654321"},
		{"log retention", s.mocks.named(t, typeLogGroup, "sleuth-respond-logs").Inputs["retentionInDays"], float64(30)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	for _, handler := range sleuthHandlers[1:] {
		if v := get(s.function(handler).Inputs, "environment.variables."+sleuth.EnvAllowedSendersParam); v != nil {
			t.Errorf("%s gets %s = %v, want it only on the request Lambda", handler, sleuth.EnvAllowedSendersParam, v)
		}
	}
}

// TestSleuthAllowedSendersStayInSSM: phone numbers are personal data; they
// are in a SecureString parameter, a Pulumi secret, and in no Lambda's
// environment, no other resource and no output. Unset, the parameter
// holds "*" (anyone), so the webhook always reads it and fails closed.
func TestSleuthAllowedSendersStayInSSM(t *testing.T) {
	cfg := testConfig()
	cfg["crossfaas:allowedSenders"] = "+15551234567,+15557654321"
	s := runSleuthStack(t, "dev", cfg)
	p := s.mocks.named(t, typeParameter, "sleuth-allowed-senders")
	if p.Inputs["type"] != "SecureString" || !p.SecretInputs["value"] || p.Inputs["name"] != "/crossfaas-dev/sleuth/allowed-senders" {
		t.Errorf("allowed senders parameter = %v (secret value: %v), want a secret SecureString /crossfaas-dev/sleuth/allowed-senders", p.Inputs, p.SecretInputs["value"])
	}
	for _, r := range s.mocks.snapshot() {
		if r.Type == typeParameter && r.Name == p.Name {
			continue
		}
		if text := fmt.Sprintf("%v %v", r.Inputs, r.Outputs); strings.Contains(text, "5551234567") || strings.Contains(text, "5557654321") {
			t.Errorf("%s %s holds an allowed sender's number", r.Type, r.Name)
		}
	}
	if strings.Contains(fmt.Sprint(s.outputs), "5551234567") {
		t.Error("the stack outputs hold an allowed sender's number")
	}
	anyone := runSleuthStack(t, "dev", testConfig())
	if v := anyone.mocks.named(t, typeParameter, "sleuth-allowed-senders").Inputs["value"]; v != sleuth.AnySender {
		t.Errorf("allowed senders parameter without the setting = %v, want %q", v, sleuth.AnySender)
	}
}

func TestSleuthDefaults(t *testing.T) {
	timeout := time.Duration(defaultSleuthWorkerTimeoutSeconds) * time.Second
	if timeout != worker.DefaultFunctionTimeout {
		t.Errorf("defaultSleuthWorkerTimeoutSeconds = %v, want worker.DefaultFunctionTimeout %v", timeout, worker.DefaultFunctionTimeout)
	}
	if timeout != ledger.DefaultLease {
		t.Errorf("defaultSleuthWorkerTimeoutSeconds = %v, want ledger.DefaultLease %v", timeout, ledger.DefaultLease)
	}
	if defaultMatchThreshold != worker.DefaultThreshold {
		t.Errorf("defaultMatchThreshold = %v, want worker.DefaultThreshold %v", defaultMatchThreshold, worker.DefaultThreshold)
	}
}

// loadConfigWith runs LoadConfig for crossfaas/dev with settings, of
// which only the keys in secret are stored as secrets.
func loadConfigWith(t *testing.T, settings map[string]string, secret []string) (Config, error) {
	t.Helper()
	var cfg Config
	var loadErr error
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, loadErr = LoadConfig(ctx)
		return nil
	}, pulumi.WithMocks("crossfaas", "dev", &mocks{}), withConfig(settings),
		func(info *pulumi.RunInfo) { info.ConfigSecretKeys = secret })
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return cfg, loadErr
}

func TestLoadConfigSleuthRejects(t *testing.T) {
	bothSecret := []string{configTwilioAccountSID, configTwilioAuthToken}
	allSecret := append(slices.Clone(bothSecret), "crossfaas:allowedSenders")
	tests := []struct {
		name   string
		key    string
		value  string // "" deletes the key
		secret []string
		want   string
	}{
		{name: "no account sid", key: configTwilioAccountSID, secret: bothSecret, want: "pulumi config set --secret crossfaas:twilioAccountSid"},
		{name: "no auth token", key: configTwilioAuthToken, secret: bothSecret, want: "pulumi config set --secret crossfaas:twilioAuthToken"},
		{name: "auth token in plain text", key: configTwilioAuthToken, value: testAuthToken, secret: []string{configTwilioAccountSID}, want: "stored in plain text"},
		{name: "account sid in plain text", key: configTwilioAccountSID, value: testAccountSID, secret: []string{configTwilioAuthToken}, want: "stored in plain text"},
		{name: "token given as the sid", key: configTwilioAccountSID, value: "0123456789abcdef0123456789abcdef", secret: bothSecret, want: "not a Twilio account SID"},
		{name: "sender without plus", key: "crossfaas:allowedSenders", value: "15551234567", secret: allSecret, want: "not an E.164 phone number"},
		{name: "sender with letters", key: "crossfaas:allowedSenders", value: `["+1555CALLME"]`, secret: allSecret, want: "not an E.164 phone number"},
		{name: "unquoted sender in yaml", key: "crossfaas:allowedSenders", value: `[15551234567]`, secret: allSecret, want: `quote it in the stack file ("+15551234567")`},
		{name: "senders not a list", key: "crossfaas:allowedSenders", value: `["+15551234567"`, secret: allSecret, want: "not a list"},
		{name: "senders after the list", key: "crossfaas:allowedSenders", value: `["+15551234567"] +15557654321`, secret: allSecret, want: "not a list"},
		{name: "threshold above 100", key: "crossfaas:matchThreshold", value: "101", secret: bothSecret, want: "out of range"},
		{name: "threshold not a number", key: "crossfaas:matchThreshold", value: "high", secret: bothSecret, want: "not a number"},
		{name: "request timeout past Twilio's patience", key: "crossfaas:sleuthRequestTimeoutSeconds", value: "13", secret: bothSecret, want: "out of range"},
		{name: "worker timeout past Lambda's", key: "crossfaas:sleuthWorkerTimeoutSeconds", value: "901", secret: bothSecret, want: "out of range"},
		{name: "allowed senders in plain text", key: "crossfaas:allowedSenders", value: "+15551234567", secret: bothSecret, want: "pulumi config set --secret crossfaas:allowedSenders"},
		{name: "worker memory too small", key: "crossfaas:sleuthWorkerMemoryMb", value: "64", secret: bothSecret, want: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := testConfig()
			if tt.value == "" {
				delete(settings, tt.key)
			} else {
				settings[tt.key] = tt.value
			}
			_, err := loadConfigWith(t, settings, tt.secret)
			if err == nil {
				t.Fatalf("LoadConfig(%s=%q) succeeded, want an error containing %q", tt.key, tt.value, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("LoadConfig(%s=%q) error = %q, want it to contain %q and name the key", tt.key, tt.value, err, tt.want)
			}
			for _, secret := range []string{testAuthToken, testAccountSID, "0123456789abcdef0123456789abcdef"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("LoadConfig error = %q reveals a secret value", err)
				}
			}
		})
	}
}

func TestLoadConfigAllowedSenders(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string
	}{
		{name: "unset", value: "", want: nil},
		{name: "yaml list", value: `["+15551234567", "+447700900123"]`, want: []string{"+15551234567", "+447700900123"}},
		{name: "comma-separated", value: " +15551234567 ,+447700900123,", want: []string{"+15551234567", "+447700900123"}},
		{name: "empty list", value: `[]`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := testConfig()
			if tt.value != "" {
				settings["crossfaas:allowedSenders"] = tt.value
			}
			cfg, err := loadConfigWith(t, settings, []string{configTwilioAccountSID, configTwilioAuthToken, "crossfaas:allowedSenders"})
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !reflect.DeepEqual(cfg.AllowedSenders, tt.want) {
				t.Errorf("LoadConfig(allowedSenders=%q).AllowedSenders = %q, want %q", tt.value, cfg.AllowedSenders, tt.want)
			}
		})
	}
}

func TestLoadConfigTwilioSecrets(t *testing.T) {
	var sid, token pulumi.StringOutput
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, err := LoadConfig(ctx)
		sid, token = cfg.TwilioAccountSID, cfg.TwilioAuthToken
		return err
	}, pulumi.WithMocks("crossfaas", "dev", &mocks{}), withConfig(testConfig()))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	for _, c := range []struct {
		name string
		out  pulumi.StringOutput
		want string
	}{{"account SID", sid, testAccountSID}, {"auth token", token, testAuthToken}} {
		res, err := internals.UnsafeAwaitOutput(context.Background(), c.out)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !res.Secret || res.Value != c.want {
			t.Errorf("Twilio %s: secret %v, matches the config %v; want a secret holding the config value", c.name, res.Secret, res.Value == c.want)
		}
	}
}

func TestNewSleuthRefusesIncompleteArgs(t *testing.T) {
	tests := []struct {
		name string
		args func(api *httpapi.API) *sleuthbot.Args
	}{
		{"nil", func(*httpapi.API) *sleuthbot.Args { return nil }},
		{"no API", func(*httpapi.API) *sleuthbot.Args {
			return &sleuthbot.Args{Prefix: "crossfaas-dev", TwilioAccountSID: pulumi.String("a"), TwilioAuthToken: pulumi.String("t")}
		}},
		{"no secrets", func(api *httpapi.API) *sleuthbot.Args { return &sleuthbot.Args{Prefix: "crossfaas-dev", API: api} }},
		{"no prefix", func(api *httpapi.API) *sleuthbot.Args {
			return &sleuthbot.Args{API: api, TwilioAccountSID: pulumi.String("a"), TwilioAuthToken: pulumi.String("t")}
		}},
		{"threshold", func(api *httpapi.API) *sleuthbot.Args {
			return &sleuthbot.Args{Prefix: "crossfaas-dev", API: api, TwilioAccountSID: pulumi.String("a"), TwilioAuthToken: pulumi.String("t"), MatchThreshold: 150}
		}},
		{"sender holding a comma", func(api *httpapi.API) *sleuthbot.Args {
			return &sleuthbot.Args{Prefix: "crossfaas-dev", API: api, TwilioAccountSID: pulumi.String("a"), TwilioAuthToken: pulumi.String("t"), AllowedSenders: []string{"+1555,+1556"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var made error
			m, err := runComponents(t, func(ctx *pulumi.Context) error {
				api, err := httpapi.New(ctx, "api", &httpapi.Args{Name: "crossfaas-dev-api", ThrottlingBurstLimit: 5, ThrottlingRateLimit: 1})
				if err != nil {
					return err
				}
				_, made = sleuthbot.New(ctx, "sleuth", tt.args(api))
				return nil
			})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if made == nil {
				t.Errorf("sleuthbot.New with %s succeeded, want an error", tt.name)
			}
			for _, r := range m.snapshot() {
				if strings.HasPrefix(r.Name, "sleuth") {
					t.Errorf("sleuthbot.New with %s registered %s %s, want nothing", tt.name, r.Type, r.Name)
				}
			}
		})
	}
}
