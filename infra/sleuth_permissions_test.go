package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/infra/sleuthbot"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

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
