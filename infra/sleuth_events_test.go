package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/infra/sleuthbot"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

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
