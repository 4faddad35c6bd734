package logs

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// FilterLogEventsAPI is the CloudWatch Logs call a CloudWatch source makes;
// *cloudwatchlogs.Client is one.
type FilterLogEventsAPI interface {
	FilterLogEvents(ctx context.Context, params *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// CloudWatch is the log group of one Lambda function.
type CloudWatch struct {
	Client FilterLogEventsAPI
	// Group is the log group, e.g. /aws/lambda/crossfaas-dev-proxy.
	Group string
	// Function is the function's name without the stack prefix.
	Function string
}

// Name implements Source.
func (c *CloudWatch) Name() string { return "CloudWatch Logs " + c.Group }

// Fetch implements Source with FilterLogEvents over every stream of the
// group, following nextToken.
func (c *CloudWatch) Fetch(ctx context.Context, start, end time.Time, each func(Event) error) error {
	p := cloudwatchlogs.NewFilterLogEventsPaginator(c.Client, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(c.Group),
		StartTime:    aws.Int64(start.UnixMilli()),
		// EndTime is inclusive in milliseconds; end is exclusive.
		EndTime: aws.Int64(end.UnixMilli() - 1),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, ev := range page.Events {
			e := Event{Cloud: "aws", Function: c.Function, ID: aws.ToString(ev.EventId),
				Time: time.UnixMilli(aws.ToInt64(ev.Timestamp)).UTC()}
			applyLine(&e, aws.ToString(ev.Message))
			if err := each(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// NoRetries makes the client try each call once: Stream retries, and
// says so on stderr.
func NoRetries(o *cloudwatchlogs.Options) { o.RetryMaxAttempts = 1 }

var _ Source = (*CloudWatch)(nil)

// String describes the source for test failures.
func (c *CloudWatch) String() string { return fmt.Sprintf("CloudWatch(%s)", c.Group) }
