package sleuthbot

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// subscribe makes topic invoke fn: a dead-letter queue (named queueName)
// for the messages SNS cannot deliver, with a policy letting only that
// topic send to it; the permission for that topic to invoke fn; the
// subscription; and fn's asynchronous invocation settings, which send an
// event whose retries are exhausted to onFailure. The resources are named
// name-dlq, name-dlq-policy, name-sns-permission, name-subscription and
// name-invoke-config.
func subscribe(ctx *pulumi.Context, name string, topic *sns.Topic, fn *golambda.GoLambda, onFailure pulumi.StringOutput, queueName string, tags pulumi.StringMap, parent pulumi.ResourceOption) error {
	dlq, dlqPolicy, err := newTopicQueue(ctx, name+"-dlq", queueName, topic, tags, parent)
	if err != nil {
		return err
	}

	permission, err := lambda.NewPermission(ctx, name+"-sns-permission", &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  fn.Function.Name,
		Principal: pulumi.String("sns.amazonaws.com"),
		SourceArn: topic.Arn,
	}, parent)
	if err != nil {
		return fmt.Errorf("%s: permission: %w", name, err)
	}

	_, err = sns.NewTopicSubscription(ctx, name+"-subscription", &sns.TopicSubscriptionArgs{
		Topic:         topic.Arn,
		Protocol:      pulumi.String("lambda"),
		Endpoint:      fn.Function.Arn,
		RedrivePolicy: redrivePolicy(dlq),
		// Deliveries before the permission and the queue policy exist would
		// fail, and their dead letters be refused.
	}, parent, pulumi.DependsOn([]pulumi.Resource{permission, dlqPolicy}))
	if err != nil {
		return fmt.Errorf("%s: subscription: %w", name, err)
	}

	_, err = lambda.NewFunctionEventInvokeConfig(ctx, name+"-invoke-config", &lambda.FunctionEventInvokeConfigArgs{
		FunctionName:         fn.Function.Name,
		MaximumRetryAttempts: pulumi.Int(sleuthMaxRetryAttempts),
		DestinationConfig: &lambda.FunctionEventInvokeConfigDestinationConfigArgs{
			OnFailure: &lambda.FunctionEventInvokeConfigDestinationConfigOnFailureArgs{Destination: onFailure},
		},
		// Lambda refuses a destination the function's role may not send to.
	}, parent, pulumi.DependsOn([]pulumi.Resource{fn.Policy}))
	if err != nil {
		return fmt.Errorf("%s: invoke config: %w", name, err)
	}
	return nil
}

// newTopicQueue creates a queue (see NewQueue) with a policy letting
// only topic send to it, named name and name-policy.
func newTopicQueue(ctx *pulumi.Context, name, queueName string, topic *sns.Topic, tags pulumi.StringMap, parent pulumi.ResourceOption) (*sqs.Queue, *sqs.QueuePolicy, error) {
	q, err := NewQueue(ctx, name, queueName, tags, parent)
	if err != nil {
		return nil, nil, err
	}
	policy, err := sqs.NewQueuePolicy(ctx, name+"-policy", &sqs.QueuePolicyArgs{
		QueueUrl: q.Url,
		Policy: pulumi.All(q.Arn, topic.Arn).ApplyT(func(v []any) (string, error) {
			return snsToQueuePolicy(v[0].(string), v[1].(string))
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: queue policy: %w", name, err)
	}
	return q, policy, nil
}

// redrivePolicy is the redrive policy of a subscription whose dead letters
// go to dlq.
func redrivePolicy(dlq *sqs.Queue) pulumi.StringOutput {
	return dlq.Arn.ApplyT(func(arn string) (string, error) {
		b, err := json.Marshal(map[string]string{"deadLetterTargetArn": arn})
		return string(b), err
	}).(pulumi.StringOutput)
}

// NewQueue creates a queue that keeps messages for 14 days,
// encrypted with SQS-managed keys (which SNS and Lambda can send to
// without KMS grants).
func NewQueue(ctx *pulumi.Context, name, queueName string, tags pulumi.StringMap, parent pulumi.ResourceOption) (*sqs.Queue, error) {
	q, err := sqs.NewQueue(ctx, name, &sqs.QueueArgs{
		Name:                    pulumi.String(queueName),
		MessageRetentionSeconds: pulumi.Int(sleuthQueueRetentionSeconds),
		SqsManagedSseEnabled:    pulumi.Bool(true),
		Tags:                    tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", queueName, err)
	}
	return q, nil
}

// snsToQueuePolicy is the policy of a dead-letter queue: the SNS service
// may send to it on behalf of one topic only.
func snsToQueuePolicy(queueArn, topicArn string) (string, error) {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid":       "DeadLettersOfOneTopic",
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": "sns.amazonaws.com"},
			"Action":    "sqs:SendMessage",
			"Resource":  queueArn,
			"Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": topicArn}},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("queue policy: %w", err)
	}
	return string(b), nil
}

// collectionsArn returns the ARN pattern of the stack's Rekognition
// collections, "arn:<partition>:rekognition:<region>:<account>:collection/<prefix>.*",
// from the account and region the AWS provider deploys to. Prefixes hold
// no '.' (sleuth.CollectionSeparator), so the pattern matches no other
// stack's collection.
func collectionsArn(ctx *pulumi.Context, prefix string, parent pulumi.InvokeOption) pulumi.StringOutput {
	identity := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, parent)
	region := aws.GetRegionOutput(ctx, aws.GetRegionOutputArgs{}, parent)
	return pulumi.All(identity.Arn(), identity.AccountId(), region.Name()).ApplyT(func(v []any) (string, error) {
		callerArn, account, region := v[0].(string), v[1].(string), v[2].(string)
		// The caller's ARN carries the partition: aws, aws-cn, aws-us-gov.
		parts := strings.SplitN(callerArn, ":", 3)
		if len(parts) < 3 || parts[0] != "arn" || parts[1] == "" || account == "" || region == "" {
			return "", fmt.Errorf("collections arn: caller %q, account %q and region %q do not make an ARN", callerArn, account, region)
		}
		return fmt.Sprintf("arn:%s:rekognition:%s:%s:collection/%s*", parts[1], region, account, sleuth.CollectionID(prefix, "")), nil
	}).(pulumi.StringOutput)
}

// merge returns the union of environment maps; later maps win.
func merge(envs ...pulumi.StringMap) pulumi.StringMap {
	out := pulumi.StringMap{}
	for _, env := range envs {
		maps.Copy(out, env)
	}
	return out
}
