// Package sleuthbot deploys CelebritySleuth, the SMS bot, with Pulumi: a
// component composed of golambda functions (the webhook behind an httpapi
// route, one per command, respond, failure and a cleanup run on destroy),
// SNS topics with dead-letter queues, the idempotency table, the Twilio
// secrets in SSM and the Rekognition collection.
package sleuthbot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rekognition"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// New creates the bot: its topics, the idempotency table, the Twilio
// secrets' SSM parameters, the default collection, the six Lambdas with
// their roles and log groups, the subscriptions with their dead-letter
// queues, the failure handling and the POST /sms route on args.API.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Bot, error) {
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
	comp := &Bot{}
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
	failed, failedPolicy, err := newTopicQueue(ctx, name+"-failed", physical("sleuth-failed"), topics[TopicFailures], args.Tags, parent)
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: %w", name, err)
	}
	// Like every subscription, this one has its own dead-letter queue.
	failedDLQ, failedDLQPolicy, err := newTopicQueue(ctx, name+"-failed-subscription-dlq", physical("sleuth-failed-dlq"), topics[TopicFailures], args.Tags, parent)
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: %w", name, err)
	}
	if _, err := sns.NewTopicSubscription(ctx, name+"-failed-subscription", &sns.TopicSubscriptionArgs{
		Topic:              topics[TopicFailures].Arn,
		Protocol:           pulumi.String("sqs"),
		Endpoint:           failed.Arn,
		RawMessageDelivery: pulumi.Bool(true),
		RedrivePolicy:      redrivePolicy(failedDLQ),
	}, parent, pulumi.DependsOn([]pulumi.Resource{failedPolicy, failedDLQPolicy})); err != nil {
		return nil, fmt.Errorf("new sleuth %s: failed queue subscription: %w", name, err)
	}
	sendFailed := golambda.PolicyStatement{Actions: []string{"sqs:SendMessage"}, Resources: pulumi.StringArray{failed.Arn}}

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
		sleuth.EnvResponsesTopic: topics[TopicResponses].Arn,
	})
	// The webhook needs only the auth token, to check signatures, and the
	// allowed senders.
	requestEnv := pulumi.StringMap{
		sleuth.EnvAuthTokenParam:      authToken.Name,
		sleuth.EnvAllowedSendersParam: allowedSenders.Name,
		sleuth.EnvAddCollectionTopic:  topics[TopicAddCollection].Arn,
		sleuth.EnvAddImageTopic:       topics[TopicAddImage].Arn,
		sleuth.EnvMatchTopic:          topics[TopicMatch].Arn,
	}

	publish := func(keys ...string) golambda.PolicyStatement {
		arns := make(pulumi.StringArray, len(keys))
		for i, k := range keys {
			arns[i] = topics[k].Arn
		}
		return golambda.PolicyStatement{Actions: []string{"sns:Publish"}, Resources: arns}
	}
	readSecrets := golambda.PolicyStatement{Actions: []string{"ssm:GetParameter"}, Resources: pulumi.StringArray{accountSID.Arn, authToken.Arn}}
	useLedger := golambda.PolicyStatement{Actions: LedgerActions, Resources: pulumi.StringArray{table.Arn}}
	faces := func(actions ...string) golambda.PolicyStatement {
		st := golambda.PolicyStatement{Resources: pulumi.StringArray{collections}}
		for _, a := range actions {
			st.Actions = append(st.Actions, "rekognition:"+a)
		}
		return st
	}
	failures := topics[TopicFailures].Arn

	functions := []sleuthFunction{
		{
			handler:     sleuth.HandlerRequest,
			environment: requestEnv,
			statements: []golambda.PolicyStatement{
				publish(TopicAddCollection, TopicAddImage, TopicMatch),
				// One GetParameters call reads both at cold start.
				{Actions: []string{"ssm:GetParameters"}, Resources: pulumi.StringArray{authToken.Arn, allowedSenders.Arn}},
			},
		},
		{
			// addcol sends nothing to Twilio: no secrets.
			handler: sleuth.HandlerAddCollection, trigger: TopicAddCollection,
			environment: commandEnv,
			statements:  []golambda.PolicyStatement{publish(TopicResponses, TopicFailures), useLedger, faces("CreateCollection", "DescribeCollection")},
			onFailure:   failures,
		},
		{
			// addimg and match download the user's image with the Twilio
			// credentials. addimg lists faces to find one an earlier
			// attempt indexed.
			handler: sleuth.HandlerAddImage, trigger: TopicAddImage,
			environment: merge(commandEnv, secretsEnv),
			statements:  []golambda.PolicyStatement{publish(TopicResponses, TopicFailures), useLedger, readSecrets, faces("IndexFaces", "ListFaces")},
			onFailure:   failures,
		},
		{
			handler: sleuth.HandlerMatch, trigger: TopicMatch,
			environment: merge(commandEnv, secretsEnv, pulumi.StringMap{
				sleuth.EnvMatchThreshold: pulumi.String(strconv.FormatFloat(args.MatchThreshold, 'f', -1, 64)),
			}),
			statements: []golambda.PolicyStatement{publish(TopicResponses, TopicFailures), useLedger, readSecrets, faces("SearchFacesByImage")},
			onFailure:  failures,
		},
		{
			handler: sleuth.HandlerRespond, trigger: TopicResponses,
			environment: merge(ledgerEnv, secretsEnv),
			// A reply that could not be sent cannot be apologised for by SMS
			// either: it goes straight to the failed queue.
			statements: []golambda.PolicyStatement{sendFailed, useLedger, readSecrets},
			onFailure:  failed.Arn,
		},
		{
			handler: sleuth.HandlerFailure, trigger: TopicFailures,
			environment: merge(ledgerEnv, secretsEnv),
			statements:  []golambda.PolicyStatement{sendFailed, useLedger, readSecrets},
			onFailure:   failed.Arn,
		},
	}

	var request *golambda.GoLambda
	functionNames := pulumi.StringMap{}
	for _, f := range functions {
		artifact, memoryMB, timeoutSeconds := args.Artifact, args.WorkerMemoryMB, args.WorkerTimeoutSeconds
		if f.trigger == "" {
			artifact, memoryMB, timeoutSeconds = args.RequestArtifact, args.RequestMemoryMB, args.RequestTimeoutSeconds
		}
		fn, err := golambda.New(ctx, name+"-"+f.handler, &golambda.Args{
			Name:             physical("sleuth-" + f.handler),
			Artifact:         artifact,
			Handler:          f.handler,
			MemoryMB:         memoryMB,
			TimeoutSeconds:   timeoutSeconds,
			LogRetentionDays: args.LogRetentionDays,
			Environment:      f.environment,
			Statements:       f.statements,
			Tags:             args.Tags,
			FormerParent:     comp,
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
	}, comp, []pulumi.Resource{collection})
	if err != nil {
		return nil, fmt.Errorf("new sleuth %s: %w", name, err)
	}
	functionNames[sleuth.HandlerCleanup] = cleanup.Function.Name

	route, err := args.API.AddLambdaRoute(ctx, name+"-sms", &httpapi.LambdaRouteArgs{
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
