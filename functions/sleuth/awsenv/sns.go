package awsenv

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// SNSPublisher publishes messages to SNS topics. It implements
// sleuth.Publisher.
type SNSPublisher struct {
	client *sns.Client
}

var _ sleuth.Publisher = (*SNSPublisher)(nil)

// NewSNSPublisher returns a publisher that uses client.
func NewSNSPublisher(client *sns.Client) *SNSPublisher {
	return &SNSPublisher{client: client}
}

// attributeFields are the top-level JSON string fields of a message copied
// into SNS message attributes: "command" of a sleuth.Job, "step" of a
// sleuth.Reply. They let subscriptions filter, and people find deliveries,
// without parsing bodies.
var attributeFields = []string{"command", "step"}

// Publish publishes message to the topic topicARN. When message is a JSON
// object, its "command" and "step" string fields, if present and not empty,
// also travel as String message attributes of the same names.
func (p *SNSPublisher) Publish(ctx context.Context, topicARN string, message []byte) error {
	if topicARN == "" {
		return fmt.Errorf("sns publish: empty topic ARN")
	}
	in := &sns.PublishInput{
		TopicArn:          aws.String(topicARN),
		Message:           aws.String(string(message)),
		MessageAttributes: messageAttributes(message),
	}
	if _, err := p.client.Publish(ctx, in); err != nil {
		return fmt.Errorf("sns publish to %s: %w", topicARN, err)
	}
	return nil
}

// messageAttributes returns the attributes for message, or nil when it has
// none.
func messageAttributes(message []byte) map[string]snstypes.MessageAttributeValue {
	var fields map[string]any
	if json.Unmarshal(message, &fields) != nil {
		return nil
	}
	var attrs map[string]snstypes.MessageAttributeValue
	for _, name := range attributeFields {
		value, ok := fields[name].(string)
		if !ok || value == "" {
			continue
		}
		if attrs == nil {
			attrs = make(map[string]snstypes.MessageAttributeValue, len(attributeFields))
		}
		attrs[name] = snstypes.MessageAttributeValue{
			DataType:    aws.String("String"),
			StringValue: aws.String(value),
		}
	}
	return attrs
}
