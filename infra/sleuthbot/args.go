package sleuthbot

import (
	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/crossfaas/crossfaas/infra/httpapi"
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

// Topics of the bot, keyed as in Bot.TopicArns: one per command, the
// replies, and the on-failure destination of the SNS-triggered Lambdas.
const (
	TopicAddCollection = string(sleuth.VerbAddCollection)
	TopicAddImage      = string(sleuth.VerbAddImage)
	TopicMatch         = string(sleuth.VerbMatch)
	TopicResponses     = "responses"
	TopicFailures      = "failures"
)

// sleuthTopics lists the topics in creation order.
var sleuthTopics = []string{TopicAddCollection, TopicAddImage, TopicMatch, TopicResponses, TopicFailures}

// LedgerActions are the DynamoDB calls of the idempotency ledger
// (functions/sleuth/ledger).
var LedgerActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}

// Args are the inputs of a Bot.
type Args struct {
	// Prefix is "<project>-<stack>". Every physical name starts with it,
	// the SSM parameters live under /<Prefix>/, and the command Lambdas
	// namespace Rekognition collection ids with it.
	Prefix string
	// Artifact is the zip of the SNS-triggered sleuth Lambdas (the
	// "sleuth" build artifact); each function picks its handler by the
	// handler setting.
	Artifact gobuild.Artifact
	// RequestArtifact is the zip of the webhook Lambda (the
	// "sleuth-request" build artifact): a lean binary of its own, because
	// its cold start is on Twilio's 15 s clock and the user's wait.
	RequestArtifact gobuild.Artifact
	// API is the HTTP API that gets the POST /sms route.
	API *httpapi.API
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

// Bot is CelebritySleuth, the SMS bot, on AWS. Twilio posts to POST /sms
// of the HTTP API; the request Lambda answers at once and publishes the
// command to its SNS topic; a Lambda per command works with Rekognition
// and publishes a reply to the responses topic; the respond Lambda sends
// it by SMS. An SNS-triggered Lambda whose retries are exhausted hands the
// event to the failures topic, whose failure Lambda apologises to the user
// and whose own failures land in an SQS queue. Every SNS subscription has
// a dead-letter queue, and each function has a role of its own allowing
// exactly what it calls.
type Bot struct {
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
	statements  []golambda.PolicyStatement
	// onFailure is the ARN of the destination of events whose retries are
	// exhausted; only for SNS-triggered functions.
	onFailure pulumi.StringOutput
}
