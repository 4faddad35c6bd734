package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rekognition"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// sleuthPath and sleuthRouteKey are the Twilio webhook's route on the HTTP
// API.
const (
	sleuthPath     = "/sms"
	sleuthRouteKey = "POST " + sleuthPath
)

const (
	// sleuthDefaultCollection is the user's name of the collection the
	// stack creates, so `face addimg celebs ...` works without an addcol
	// first. Its id is sleuth.CollectionID: "<prefix>.celebs".
	sleuthDefaultCollection = sleuth.DefaultCollection
	// sleuthQueueRetentionSeconds is how long the dead-letter and failed
	// queues keep a message: 14 days, the most SQS allows.
	sleuthQueueRetentionSeconds = 14 * 24 * 60 * 60
	// sleuthMaxRetryAttempts is how often Lambda retries a failed
	// asynchronous (SNS) invocation before handing the event to the
	// on-failure destination; 2 is Lambda's maximum.
	sleuthMaxRetryAttempts = 2
)

// Topics of the bot, keyed as in Sleuth.TopicArns: one per command, the
// replies, and the on-failure destination of the SNS-triggered Lambdas.
const (
	topicAddCollection = string(sleuth.VerbAddCollection)
	topicAddImage      = string(sleuth.VerbAddImage)
	topicMatch         = string(sleuth.VerbMatch)
	topicResponses     = "responses"
	topicFailures      = "failures"
)

// sleuthTopics lists the topics in creation order.
var sleuthTopics = []string{topicAddCollection, topicAddImage, topicMatch, topicResponses, topicFailures}

// ledgerActions are the DynamoDB calls of the idempotency ledger
// (functions/sleuth/ledger).
var ledgerActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}

// SleuthArgs are the inputs of a Sleuth.
type SleuthArgs struct {
	// Prefix is "<project>-<stack>". Every physical name starts with it,
	// the SSM parameters live under /<Prefix>/, and the command Lambdas
	// namespace Rekognition collection ids with it.
	Prefix string
	// Artifact is the zip of the SNS-triggered sleuth Lambdas (the
	// "sleuth" build artifact); each function picks its handler by the
	// handler setting.
	Artifact build.Artifact
	// RequestArtifact is the zip of the webhook Lambda (the
	// "sleuth-request" build artifact): a lean binary of its own, because
	// its cold start is on Twilio's 15 s clock and the user's wait.
	RequestArtifact build.Artifact
	// API is the HTTP API that gets the POST /sms route.
	API *HTTPAPI
	// TwilioAccountSID and TwilioAuthToken are the Twilio credentials. They
	// are stored as SSM SecureString parameters, whose names (never the
	// values) the functions get; NewSleuth marks them secret whatever they
	// arrive as.
	TwilioAccountSID pulumi.StringInput
	TwilioAuthToken  pulumi.StringInput
	// AllowedSenders are the phone numbers (E.164) the webhook accepts
	// commands from; empty accepts anyone. They are stored in an SSM
	// SecureString parameter, never in the webhook's environment, and
	// marked secret in the state.
	AllowedSenders []string
	// MatchThreshold is the similarity, 0 to 100, a face must reach to
	// match.
	MatchThreshold float64
	// RequestMemoryMB and RequestTimeoutSeconds size the webhook Lambda;
	// Twilio waits 15 s for its answer.
	RequestMemoryMB       int
	RequestTimeoutSeconds int
	// WorkerMemoryMB and WorkerTimeoutSeconds size the SNS-triggered
	// Lambdas: the three commands, respond and failure.
	WorkerMemoryMB       int
	WorkerTimeoutSeconds int
	LogRetentionDays     int
	Tags                 pulumi.StringMap
}

// Sleuth is CelebritySleuth, the SMS bot, on AWS. Twilio posts to POST /sms
// of the HTTP API; the request Lambda answers at once and publishes the
// command to its SNS topic; a Lambda per command works with Rekognition
// and publishes a reply to the responses topic; the respond Lambda sends
// it by SMS. An SNS-triggered Lambda whose retries are exhausted hands the
// event to the failures topic, whose failure Lambda apologises to the user
// and whose own failures land in an SQS queue. Every SNS subscription has
// a dead-letter queue, and each function has a role of its own allowing
// exactly what it calls.
type Sleuth struct {
	pulumi.ResourceState

	// WebhookURL is "<api endpoint>/sms", what Twilio's "A message comes
	// in" webhook must be set to. It resolves once the route answers.
	WebhookURL pulumi.StringOutput
	// TopicArns maps "addcol", "addimg", "match", "responses" and
	// "failures" to the topics' ARNs.
	TopicArns pulumi.StringMapOutput
	// FunctionNames maps the handler names (sleuth.Handler*) to the
	// Lambda functions' names.
	FunctionNames pulumi.StringMapOutput
	// TableName is the idempotency table's name.
	TableName pulumi.StringOutput
	// CollectionID is the id of the default Rekognition collection,
	// "<prefix>.celebs".
	CollectionID pulumi.StringOutput
	// FailedQueueURL is the queue that keeps the events the failure Lambda
	// itself could not handle.
	FailedQueueURL pulumi.StringOutput
	// AccountSIDParameter and AuthTokenParameter are the names of the SSM
	// SecureString parameters holding the Twilio credentials.
	AccountSIDParameter pulumi.StringOutput
	AuthTokenParameter  pulumi.StringOutput
}

// sleuthFunction describes one of the bot's Lambdas.
type sleuthFunction struct {
	handler string
	// trigger is the topic that invokes the function; "" for the webhook.
	trigger     string
	environment pulumi.StringMap
	statements  []PolicyStatement
	// onFailure is the ARN of the destination of events whose retries are
	// exhausted; only for SNS-triggered functions.
	onFailure pulumi.StringOutput
}

// NewSleuth creates the bot: its topics, the idempotency table, the Twilio
// secrets' SSM parameters, the default collection, the six Lambdas with
// their roles and log groups, the subscriptions with their dead-letter
// queues, the failure handling and the POST /sms route on args.API.
func NewSleuth(ctx *pulumi.Context, name string, args *SleuthArgs, opts ...pulumi.ResourceOption) (*Sleuth, error) {
	if args == nil {
		return nil, errors.New("new sleuth: args are nil")
	}
	if args.Prefix == "" || args.API == nil || args.TwilioAccountSID == nil || args.TwilioAuthToken == nil {
		return nil, fmt.Errorf("new sleuth %s: a prefix, an API and the Twilio credentials are required", name)
	}
	if args.MatchThreshold < 0 || args.MatchThreshold > 100 {
		return nil, fmt.Errorf("new sleuth %s: match threshold %g is not from 0 to 100", name, args.MatchThreshold)
	}
	for _, number := range args.AllowedSenders {
		if number == "" || strings.Contains(number, ",") {
			return nil, fmt.Errorf("new sleuth %s: allowed sender %q cannot be passed as a comma-separated list", name, number)
		}
	}
	comp := &Sleuth{}
	if err := ctx.RegisterComponentResource("crossfaas:aws:Sleuth", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("new sleuth %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	physical := func(suffix string) string { return args.Prefix + "-" + suffix }

	topics := map[string]*sns.Topic{}
	topicArns := pulumi.StringMap{}
	for _, key := range sleuthTopics {
		topic, err := sns.NewTopic(ctx, name+"-"+key+"-topic", &sns.TopicArgs{
			Name: pulumi.String(physical("sleuth-" + key)),
			Tags: args.Tags,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new sleuth %s: topic %s: %w", name, key, err)
		}
		topics[key] = topic
		topicArns[key] = topic.Arn
	}

	table, err := dynamodb.NewTable(ctx, name+"-idempotency", &dynamodb.TableArgs{
		Name:        pulumi.String(physical("sleuth-idempotency")),
		BillingMode: pulumi.String("PAY_PER_REQUEST"),
		HashKey:     pulumi.String("pk"),
		Attributes: dynamodb.TableAttributeArray{
			&dynamodb.TableAttributeArgs{Name: pulumi.String("pk"), Type: pulumi.String("S")},
		},
		// The ledger's items only matter while SNS and Lambda may still
		// redeliver; DynamoDB deletes them after expiresAt.
		Ttl:  &dynamodb.TableTtlArgs{AttributeName: pulumi.String("expiresAt"), Enabled: pulumi.Bool(true)},
		Tags: args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: idempotency table: %w", name, err)
	}

	// SecureString parameters under the stack's path, encrypted with the
	// AWS-managed key aws/ssm. Its key policy lets any principal of the
	// account decrypt through SSM, so the roles need ssm:GetParameter and
	// no kms:Decrypt.
	secretParameter := func(key, what string, value pulumi.StringInput) (*ssm.Parameter, error) {
		p, err := ssm.NewParameter(ctx, name+"-twilio-"+key, &ssm.ParameterArgs{
			Name:        pulumi.String("/" + args.Prefix + "/twilio/" + key),
			Description: pulumi.String("Twilio " + what + " of the SMS bot of " + args.Prefix),
			Type:        pulumi.String("SecureString"),
			Value:       pulumi.ToSecretWithContext(ctx.Context(), value.ToStringOutput()).(pulumi.StringOutput),
			Tags:        args.Tags,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new sleuth %s: %s parameter: %w", name, what, err)
		}
		return p, nil
	}
	accountSID, err := secretParameter("account-sid", "account SID", args.TwilioAccountSID)
	if err != nil {
		return nil, err
	}
	authToken, err := secretParameter("auth-token", "auth token", args.TwilioAuthToken)
	if err != nil {
		return nil, err
	}
	// The allowed senders are personal data: a SecureString too, "*" (an
	// SSM value can't be empty) for anyone.
	senders := sleuth.AnySender
	if len(args.AllowedSenders) > 0 {
		senders = strings.Join(args.AllowedSenders, ",")
	}
	allowedSenders, err := ssm.NewParameter(ctx, name+"-allowed-senders", &ssm.ParameterArgs{
		Name:        pulumi.String("/" + args.Prefix + "/sleuth/allowed-senders"),
		Description: pulumi.String("Phone numbers allowed to use the SMS bot of " + args.Prefix + " (* for anyone)"),
		Type:        pulumi.String("SecureString"),
		Value:       pulumi.ToSecretWithContext(ctx.Context(), pulumi.String(senders)).(pulumi.StringOutput),
		Tags:        args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: allowed senders parameter: %w", name, err)
	}

	collection, err := rekognition.NewCollection(ctx, name+"-collection", &rekognition.CollectionArgs{
		CollectionId: pulumi.String(sleuth.CollectionID(args.Prefix, sleuthDefaultCollection)),
		Tags:         args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: collection: %w", name, err)
	}

	// The failed queue keeps, for an operator, every event whose retries
	// are exhausted: it is subscribed to the failures topic (beside the
	// failure Lambda, which apologises to the user), and it is the on-failure
	// destination of the Lambdas that cannot apologise (respond, whose reply
	// could not be sent, and failure itself). Lambda sends to it with the
	// function's role; SNS needs the queue policy.
	failed, failedPolicy, err := newTopicQueue(ctx, name+"-failed", physical("sleuth-failed"), topics[topicFailures], args.Tags, parent)
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: %w", name, err)
	}
	// Like every subscription, this one has its own dead-letter queue.
	failedDLQ, failedDLQPolicy, err := newTopicQueue(ctx, name+"-failed-subscription-dlq", physical("sleuth-failed-dlq"), topics[topicFailures], args.Tags, parent)
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: %w", name, err)
	}
	if _, err := sns.NewTopicSubscription(ctx, name+"-failed-subscription", &sns.TopicSubscriptionArgs{
		Topic:              topics[topicFailures].Arn,
		Protocol:           pulumi.String("sqs"),
		Endpoint:           failed.Arn,
		RawMessageDelivery: pulumi.Bool(true),
		RedrivePolicy:      redrivePolicy(failedDLQ),
	}, parent, pulumi.DependsOn([]pulumi.Resource{failedPolicy, failedDLQPolicy})); err != nil {
		return nil, fmt.Errorf("new sleuth %s: failed queue subscription: %w", name, err)
	}
	sendFailed := PolicyStatement{Actions: []string{"sqs:SendMessage"}, Resources: pulumi.StringArray{failed.Arn}}

	collections := collectionsArn(ctx, args.Prefix, parent)

	secretsEnv := pulumi.StringMap{
		sleuth.EnvAccountSIDParam: accountSID.Name,
		sleuth.EnvAuthTokenParam:  authToken.Name,
	}
	// The SNS-triggered functions' claims in the ledger follow their
	// timeout: they lapse shortly after an invocation's deadline.
	ledgerEnv := pulumi.StringMap{
		sleuth.EnvIdempotencyTable: table.Name,
		sleuth.EnvFunctionTimeout:  pulumi.String(strconv.Itoa(args.WorkerTimeoutSeconds)),
	}
	commandEnv := merge(ledgerEnv, pulumi.StringMap{
		sleuth.EnvPrefix:         pulumi.String(args.Prefix),
		sleuth.EnvResponsesTopic: topics[topicResponses].Arn,
	})
	// The webhook needs only the auth token, to check signatures, and the
	// allowed senders.
	requestEnv := pulumi.StringMap{
		sleuth.EnvAuthTokenParam:      authToken.Name,
		sleuth.EnvAllowedSendersParam: allowedSenders.Name,
		sleuth.EnvAddCollectionTopic:  topics[topicAddCollection].Arn,
		sleuth.EnvAddImageTopic:       topics[topicAddImage].Arn,
		sleuth.EnvMatchTopic:          topics[topicMatch].Arn,
	}

	publish := func(keys ...string) PolicyStatement {
		arns := make(pulumi.StringArray, len(keys))
		for i, k := range keys {
			arns[i] = topics[k].Arn
		}
		return PolicyStatement{Actions: []string{"sns:Publish"}, Resources: arns}
	}
	readSecrets := PolicyStatement{Actions: []string{"ssm:GetParameter"}, Resources: pulumi.StringArray{accountSID.Arn, authToken.Arn}}
	useLedger := PolicyStatement{Actions: ledgerActions, Resources: pulumi.StringArray{table.Arn}}
	faces := func(actions ...string) PolicyStatement {
		st := PolicyStatement{Resources: pulumi.StringArray{collections}}
		for _, a := range actions {
			st.Actions = append(st.Actions, "rekognition:"+a)
		}
		return st
	}
	failures := topics[topicFailures].Arn

	functions := []sleuthFunction{
		{
			handler:     sleuth.HandlerRequest,
			environment: requestEnv,
			statements: []PolicyStatement{
				publish(topicAddCollection, topicAddImage, topicMatch),
				// One GetParameters call reads both at cold start.
				{Actions: []string{"ssm:GetParameters"}, Resources: pulumi.StringArray{authToken.Arn, allowedSenders.Arn}},
			},
		},
		{
			// addcol sends nothing to Twilio: no secrets.
			handler: sleuth.HandlerAddCollection, trigger: topicAddCollection,
			environment: commandEnv,
			statements:  []PolicyStatement{publish(topicResponses, topicFailures), useLedger, faces("CreateCollection", "DescribeCollection")},
			onFailure:   failures,
		},
		{
			// addimg and match download the user's image with the Twilio
			// credentials. addimg lists faces to find one an earlier
			// attempt indexed.
			handler: sleuth.HandlerAddImage, trigger: topicAddImage,
			environment: merge(commandEnv, secretsEnv),
			statements:  []PolicyStatement{publish(topicResponses, topicFailures), useLedger, readSecrets, faces("IndexFaces", "ListFaces")},
			onFailure:   failures,
		},
		{
			handler: sleuth.HandlerMatch, trigger: topicMatch,
			environment: merge(commandEnv, secretsEnv, pulumi.StringMap{
				sleuth.EnvMatchThreshold: pulumi.String(strconv.FormatFloat(args.MatchThreshold, 'f', -1, 64)),
			}),
			statements: []PolicyStatement{publish(topicResponses, topicFailures), useLedger, readSecrets, faces("SearchFacesByImage")},
			onFailure:  failures,
		},
		{
			handler: sleuth.HandlerRespond, trigger: topicResponses,
			environment: merge(ledgerEnv, secretsEnv),
			// A reply that could not be sent cannot be apologised for by SMS
			// either: it goes straight to the failed queue.
			statements: []PolicyStatement{sendFailed, useLedger, readSecrets},
			onFailure:  failed.Arn,
		},
		{
			handler: sleuth.HandlerFailure, trigger: topicFailures,
			environment: merge(ledgerEnv, secretsEnv),
			statements:  []PolicyStatement{sendFailed, useLedger, readSecrets},
			onFailure:   failed.Arn,
		},
	}

	var request *LambdaFunction
	functionNames := pulumi.StringMap{}
	for _, f := range functions {
		artifact, memoryMB, timeoutSeconds := args.Artifact, args.WorkerMemoryMB, args.WorkerTimeoutSeconds
		if f.trigger == "" {
			artifact, memoryMB, timeoutSeconds = args.RequestArtifact, args.RequestMemoryMB, args.RequestTimeoutSeconds
		}
		fn, err := NewLambdaFunction(ctx, name+"-"+f.handler, &LambdaFunctionArgs{
			Name:             physical("sleuth-" + f.handler),
			Artifact:         artifact,
			Handler:          f.handler,
			MemoryMB:         memoryMB,
			TimeoutSeconds:   timeoutSeconds,
			LogRetentionDays: args.LogRetentionDays,
			Environment:      f.environment,
			Statements:       f.statements,
			Tags:             args.Tags,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new sleuth %s: %w", name, err)
		}
		functionNames[f.handler] = fn.Function.Name
		if f.trigger == "" {
			request = fn
			continue
		}
		if err := subscribe(ctx, name+"-"+f.handler, topics[f.trigger], fn, f.onFailure, physical("sleuth-"+f.trigger+"-dlq"), args.Tags, parent); err != nil {
			return nil, fmt.Errorf("new sleuth %s: %w", name, err)
		}
	}

	cleanup, _, err := newSleuthCleanup(ctx, name, sleuthCleanupArgs{
		Prefix: args.Prefix, Artifact: args.Artifact, Collections: collections,
		Keep:             []string{sleuth.CollectionID(args.Prefix, sleuthDefaultCollection)},
		LogRetentionDays: args.LogRetentionDays, Tags: args.Tags,
	}, parent, []pulumi.Resource{collection})
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: %w", name, err)
	}
	functionNames[sleuth.HandlerCleanup] = cleanup.Function.Name

	route, err := args.API.AddLambdaRoute(ctx, name+"-sms", &LambdaRouteArgs{
		RouteKey: sleuthRouteKey,
		Function: request.Function,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: %w", name, err)
	}

	// Waiting for the route and permission means the URL, once known,
	// answers.
	comp.WebhookURL = pulumi.All(args.API.Endpoint, route.Route.ID(), route.Permission.ID()).ApplyT(func(v []any) string {
		return v[0].(string) + sleuthPath
	}).(pulumi.StringOutput)
	comp.TopicArns = topicArns.ToStringMapOutput()
	comp.FunctionNames = functionNames.ToStringMapOutput()
	comp.TableName = table.Name
	comp.CollectionID = collection.CollectionId
	comp.FailedQueueURL = failed.Url
	comp.AccountSIDParameter = accountSID.Name
	comp.AuthTokenParameter = authToken.Name
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"webhookUrl":          comp.WebhookURL,
		"topicArns":           comp.TopicArns,
		"functionNames":       comp.FunctionNames,
		"tableName":           comp.TableName,
		"collectionId":        comp.CollectionID,
		"failedQueueUrl":      comp.FailedQueueURL,
		"accountSidParameter": comp.AccountSIDParameter,
		"authTokenParameter":  comp.AuthTokenParameter,
	}); err != nil {
		return nil, fmt.Errorf("new sleuth %s: outputs: %w", name, err)
	}
	return comp, nil
}

// subscribe makes topic invoke fn: a dead-letter queue (named queueName)
// for the messages SNS cannot deliver, with a policy letting only that
// topic send to it; the permission for that topic to invoke fn; the
// subscription; and fn's asynchronous invocation settings, which send an
// event whose retries are exhausted to onFailure. The resources are named
// name-dlq, name-dlq-policy, name-sns-permission, name-subscription and
// name-invoke-config.
func subscribe(ctx *pulumi.Context, name string, topic *sns.Topic, fn *LambdaFunction, onFailure pulumi.StringOutput, queueName string, tags pulumi.StringMap, parent pulumi.ResourceOption) error {
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

// newTopicQueue creates a queue (see newSleuthQueue) with a policy letting
// only topic send to it, named name and name-policy.
func newTopicQueue(ctx *pulumi.Context, name, queueName string, topic *sns.Topic, tags pulumi.StringMap, parent pulumi.ResourceOption) (*sqs.Queue, *sqs.QueuePolicy, error) {
	q, err := newSleuthQueue(ctx, name, queueName, tags, parent)
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

// newSleuthQueue creates a queue that keeps messages for 14 days,
// encrypted with SQS-managed keys (which SNS and Lambda can send to
// without KMS grants).
func newSleuthQueue(ctx *pulumi.Context, name, queueName string, tags pulumi.StringMap, parent pulumi.ResourceOption) (*sqs.Queue, error) {
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
