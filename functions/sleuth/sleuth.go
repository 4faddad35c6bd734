// Package sleuth holds what the CelebritySleuth functions share: the messages
// they pass through SNS, the small interfaces their handlers depend on, and
// the environment contract between the Pulumi stack and the Lambdas.
//
// The flow: Twilio -> POST /sms -> request handler -> one SNS topic per
// command (Job) -> command handlers -> responses topic (Reply) -> respond
// handler -> Twilio Messages API. Every interface here has a cloud
// implementation (Rekognition, SNS, DynamoDB, SSM, Twilio, Wikipedia) and an
// offline one used by `crossfaas dev`; no handler knows which it has.
package sleuth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Verb is a command of the SMS bot.
type Verb string

// The commands a user can text, after "face ".
const (
	VerbAddCollection Verb = "addcol" // face addcol <collection>
	VerbAddImage      Verb = "addimg" // face addimg <collection> <first_last> + image
	VerbMatch         Verb = "match"  // face match <collection> + image
)

// DefaultCollection is the user's name of the collection every stage has
// from the start (the stack creates it, and so does `crossfaas dev`): the
// README's walkthrough adds faces to it without a `face addcol` first, and
// a photo texted without a command is matched against it.
const DefaultCollection = "celebs"

// Job is the JSON message the request handler publishes to the topic of its
// command. Collection is the user's collection name as typed (lower-cased);
// handlers namespace it per stack before calling Faces. Name is the person's
// name as typed, "first_last" (only for addimg).
type Job struct {
	Command          Verb   `json:"command"`
	Collection       string `json:"collection"`
	Name             string `json:"name,omitempty"`
	MediaURL         string `json:"mediaUrl,omitempty"`
	MediaContentType string `json:"mediaContentType,omitempty"`
	From             string `json:"from"`       // the user's phone number (E.164)
	To               string `json:"to"`         // the Twilio number the user texted
	MessageSid       string `json:"messageSid"` // Twilio's id of the inbound message
}

// Reply is the JSON message command handlers publish to the responses topic:
// the respond handler sends Body by SMS from From (the Twilio number) to To
// (the user). Step names the producer ("addcol", "addimg", "match",
// "failure"); together with MessageSid it makes the idempotency key of the
// SMS sent for it.
type Reply struct {
	MessageSid string `json:"messageSid"`
	Step       string `json:"step"`
	From       string `json:"from"`
	To         string `json:"to"`
	Body       string `json:"body"`
	// Error is true when Body explains why the command could not be done
	// (no face in the photo, an unknown collection, ...) instead of giving
	// its result. The respond handler sends it all the same; `crossfaas
	// dev`'s phone simulator shows such replies apart.
	Error bool `json:"error,omitempty"`
}

// Match is the best face found in a collection.
type Match struct {
	ExternalID string  // the id the face was indexed under, e.g. "mel_gibson:MM0123..." (see PersonName)
	Similarity float64 // 0-100, as Rekognition reports it
}

// CollectionSeparator joins a stack's prefix and a user's collection name
// into a collection id. User names can't contain it (package command
// refuses them) and neither can prefixes, so the ids of one stack
// ("<prefix>.*") never include another stack's, whatever the names:
// "crossfaas-dev.eu-celebs" is stack dev's collection "eu-celebs", and
// stack dev-eu's "celebs" is "crossfaas-dev-eu.celebs".
const CollectionSeparator = "."

// CollectionID returns the physical id (Rekognition's CollectionId) of the
// user's collection name in the stage whose names start with prefix
// ("<project>-<stack>"). Every handler and tool that names a collection
// uses it, so they agree on the id.
func CollectionID(prefix, name string) string { return prefix + CollectionSeparator + name }

// FaceExternalID is the external id a face is indexed under: the person's
// name and, after ':' (which names can't contain), the MessageSid of the
// message that added it, so a retry can find whether its face is indexed.
func FaceExternalID(name, messageSid string) string { return name + ":" + messageSid }

// PersonName returns the person's name of an external id: what precedes
// ':' in ids of FaceExternalID, the whole id for faces indexed before.
func PersonName(externalID string) string {
	name, _, _ := strings.Cut(externalID, ":")
	return name
}

// Errors a Faces implementation returns for outcomes the user caused; each
// gets its own SMS. Anything else is a failure to retry.
var (
	ErrCollectionNotFound = errors.New("collection not found")
	ErrNoFace             = errors.New("no face in the image")
	ErrNoMatch            = errors.New("no face matched above the threshold")
	ErrBadImage           = errors.New("image could not be decoded")
)

// Faces is face recognition with Rekognition's semantics. Collection ids are
// physical ids, already namespaced per stack (see CollectionID).
//
// CreateCollection and IndexFace change things: an implementation must not
// send them twice on its own (a transport-level re-send after a lost
// response would create or index twice); the caller records its attempt
// in the Ledger and reconciles on a retry instead.
type Faces interface {
	// CreateCollection creates the collection; created is false when it
	// already existed (not an error).
	CreateCollection(ctx context.Context, collectionID string) (created bool, err error)
	// CollectionCreated returns when the collection was created (a read,
	// safe to retry): how a retry tells a collection its own uncertain
	// CreateCollection made from one that existed before it.
	// ErrCollectionNotFound.
	CollectionCreated(ctx context.Context, collectionID string) (time.Time, error)
	// IndexFace adds the largest face of image (JPEG or PNG bytes) under
	// externalID (see FaceExternalID). ErrNoFace when there is none,
	// ErrCollectionNotFound.
	IndexFace(ctx context.Context, collectionID, externalID string, image []byte) error
	// FaceIndexed reports whether the collection holds a face indexed
	// under externalID: how a retry finds out whether an IndexFace whose
	// outcome it doesn't know happened. ErrCollectionNotFound.
	FaceIndexed(ctx context.Context, collectionID, externalID string) (bool, error)
	// SearchFace finds the best match for the largest face of image with a
	// similarity of at least threshold (0-100). ErrNoFace, ErrNoMatch,
	// ErrCollectionNotFound.
	SearchFace(ctx context.Context, collectionID string, image []byte, threshold float64) (Match, error)
}

// Publisher publishes one message to a topic (SNS in the cloud, an
// in-process bus under `crossfaas dev`).
type Publisher interface {
	Publish(ctx context.Context, topicARN string, message []byte) error
}

// Ledger makes at-least-once deliveries act once. Keys are
// "<MessageSid>#<step>". See Claim for the life of a step.
//
// Every method is safe to call again with the same arguments after an
// uncertain outcome (a lost response): the owner token of the claim makes a
// re-sent Begin, Attempt or Release find its own write.
type Ledger interface {
	// Begin claims key for the delivery attempt calling it, until the
	// deadline of ctx (the invocation's; the ledger's own limit when ctx
	// has none) plus LeaseMargin. The Claim is Done when the step already
	// happened. An error wrapping ErrInProgress means another attempt
	// holds a live claim (the caller fails, so the platform retries
	// later); other errors leave nothing claimed.
	Begin(ctx context.Context, key string) (Claim, error)
	// Attempt records marker on the claim before a call whose effect
	// can't be undone, so a later attempt knows to reconcile (look the
	// effect up) before calling again. A claim keeps the first marker.
	Attempt(ctx context.Context, c Claim, marker string) error
	// Done records the step as done with its result (for a command, the
	// reply to send again to duplicates).
	Done(ctx context.Context, c Claim, result string) error
	// Release ends the claim at once so a retry can take the step over;
	// its attempt marker stays. Releasing a done step or a claim taken
	// over since does nothing.
	Release(ctx context.Context, c Claim) error
	// Status reads key without claiming it.
	Status(ctx context.Context, key string) (StepStatus, error)
	// Adopt makes thing (e.g. "twilio:SM...", a message a send created)
	// belong to the step of c, so that no other step's reconciliation
	// takes it for its own. It reports whether thing is c's: true when it
	// was free or already the step's.
	Adopt(ctx context.Context, thing string, c Claim) (bool, error)
}

// Claim is one delivery attempt's hold on a step of the Ledger, or the
// news that the step is done.
//
// A step's life: Begin (a claim with a random owner token, lapsing at the
// attempt's deadline plus LeaseMargin), Attempt before each call whose
// effect can't be undone, then Done with the result, or Release on a
// failure. An attempt that dies holding the claim (a crash, a timeout)
// leaves it to lapse: the next Lambda retry, a minute or more after the
// death, takes it over and, seeing the marker, reconciles.
type Claim struct {
	Key string
	// Owner is the attempt's token; zero for a Claim that is Done.
	Owner string
	// Done reports that the step already happened; Result is what was
	// recorded ("" for a step recorded before results were).
	Done   bool
	Result string
	// Attempt is the marker an earlier attempt recorded before a call
	// whose effect may have happened; "" when none did.
	Attempt string
	// Until is when the claim lapses.
	Until time.Time
}

// StepStatus is what Ledger.Status reads of a step.
type StepStatus struct {
	Done   bool
	Result string
	// Held reports a live claim: an attempt may still be working on the
	// step until Until.
	Held  bool
	Until time.Time
}

// LeaseMargin is how long a claim outlives the deadline of the attempt
// that holds it: room for the skew between the clocks of two Lambda hosts
// and for a call sent just before the deadline to land. Lambda's first
// retry of a failed asynchronous invocation comes a minute after the
// failure, long after the claim lapsed.
const LeaseMargin = 2 * time.Second

// ErrInProgress is returned by Ledger.Begin while another delivery of the
// same step holds its claim.
var ErrInProgress = errors.New("step in progress in another delivery")

// SMSSender sends SMS (Twilio's Messages API in the cloud, the phone
// simulator under `crossfaas dev`) and finds those it sent.
type SMSSender interface {
	// Send sends one SMS and returns the id of the message created.
	Send(ctx context.Context, from, to, body string) (id string, err error)
	// Sent returns the ids of the messages from from to to with body
	// created at since or later, oldest first: how a retry finds out
	// whether an attempt whose outcome it doesn't know sent its SMS.
	Sent(ctx context.Context, from, to, body string, since time.Time) ([]string, error)
}

// Media fetches the image a user attached (a Twilio media URL). Errors
// wrapping ErrMediaRefused are the user's (wrong host, type or size) and get
// their own SMS; others are failures to retry.
type Media interface {
	Fetch(ctx context.Context, mediaURL, contentType string) ([]byte, error)
}

// Errors of Media for what the user sent.
var (
	ErrMediaRefused  = errors.New("media refused")
	ErrMediaTooLarge = fmt.Errorf("%w: larger than 5 MiB", ErrMediaRefused)
	ErrMediaType     = fmt.Errorf("%w: not a JPEG or PNG image", ErrMediaRefused)
	ErrMediaHost     = fmt.Errorf("%w: not a Twilio media URL", ErrMediaRefused)
	// ErrMediaUnavailable: the media host answered the download with a
	// client error (404 for media deleted or expired, 403, ...). Asking
	// again would get the same answer, so it is not retried.
	ErrMediaUnavailable = fmt.Errorf("%w: the media host refused the download", ErrMediaRefused)
)

// Biographies looks up a short biography of a person by display name
// ("Mel Gibson"). ErrNoBiography when there is none (not found, or only a
// disambiguation page); other errors mean the source was unreachable.
type Biographies interface {
	Biography(ctx context.Context, name string) (string, error)
}

// ErrNoBiography is returned by Biographies when no biography exists.
var ErrNoBiography = errors.New("no biography found")

// MaskNumber keeps the last four characters of a phone number, enough to
// tell users apart in logs without writing their numbers there.
func MaskNumber(n string) string {
	if len(n) <= 4 {
		return strings.Repeat("*", len(n))
	}
	return strings.Repeat("*", len(n)-4) + n[len(n)-4:]
}

// Environment variables the stack sets on the sleuth Lambdas (and `crossfaas
// dev` sets for its in-process copies). Secrets never travel this way: the
// Twilio credentials are read from the SSM SecureString parameters named here.
const (
	EnvPrefix              = "CROSSFAAS_PREFIX"                // "<project>-<stack>", namespaces collection ids (see CollectionID)
	EnvAddCollectionTopic  = "SLEUTH_ADDCOL_TOPIC_ARN"         // request -> addcol
	EnvAddImageTopic       = "SLEUTH_ADDIMG_TOPIC_ARN"         // request -> addimg
	EnvMatchTopic          = "SLEUTH_MATCH_TOPIC_ARN"          // request -> match
	EnvResponsesTopic      = "SLEUTH_RESPONSES_TOPIC_ARN"      // command handlers -> respond
	EnvIdempotencyTable    = "SLEUTH_IDEMPOTENCY_TABLE"        // DynamoDB table, key "pk" (string), TTL attribute "expiresAt"
	EnvAccountSIDParam     = "SLEUTH_TWILIO_ACCOUNT_SID_PARAM" // SSM parameter name (SecureString)
	EnvAuthTokenParam      = "SLEUTH_TWILIO_AUTH_TOKEN_PARAM"  // SSM parameter name (SecureString)
	EnvAllowedSendersParam = "SLEUTH_ALLOWED_SENDERS_PARAM"    // SSM parameter name (SecureString): comma-separated E.164 numbers, or "*" for anyone
	EnvFunctionTimeout     = "SLEUTH_FUNCTION_TIMEOUT_SECONDS" // the function's timeout as the stack sets it: claims lapse soon after
	EnvMatchThreshold      = "SLEUTH_MATCH_THRESHOLD"          // optional, 0-100, default 85
	EnvWebhookURL          = "SLEUTH_WEBHOOK_URL"              // optional, overrides the URL rebuilt from the event (custom domains)
	EnvTwilioAPIURL        = "SLEUTH_TWILIO_API_URL"           // optional, overrides https://api.twilio.com (tests, dev)
	EnvTwilioMediaHosts    = "SLEUTH_TWILIO_MEDIA_HOSTS"       // optional, comma-separated hosts (or host/path-prefix) media may redirect to
	EnvWikipediaURL        = "SLEUTH_WIKIPEDIA_URL"            // optional, overrides https://en.wikipedia.org (tests, dev)
)

// AnySender is the value of the allowed-senders parameter
// (EnvAllowedSendersParam) that lets anyone use the bot: an SSM parameter
// can't be empty.
const AnySender = "*"

// Handler names: the sleuth bootstrap is one binary that dispatches on the
// Lambda's handler setting (the _HANDLER environment variable of
// provided.al2023), so every sleuth function deploys the same zip.
const (
	HandlerRequest       = "request"
	HandlerAddCollection = "addcol"
	HandlerAddImage      = "addimg"
	HandlerMatch         = "match"
	HandlerRespond       = "respond"
	HandlerFailure       = "failure" // on-failure destination: tells the user "Sorry, that failed"
	HandlerCleanup       = "cleanup" // called by the stack on `pulumi destroy`: deletes the stack's collections
)
