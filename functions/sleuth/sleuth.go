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

// CollectionID returns the physical id (Rekognition's CollectionId) of the
// user's collection in the stage whose names start with prefix
// ("<project>-<stack>"). Every handler and tool that names a collection
// uses it, so they agree on the id.
func CollectionID(prefix, collection string) string {
	return prefix + "-" + collection
}

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
	ExternalID string  // the name the face was indexed under, e.g. "mel_gibson"
	Similarity float64 // 0-100, as Rekognition reports it
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
// physical ids, already namespaced per stack ("<project>-<stack>-<name>").
type Faces interface {
	// CreateCollection creates the collection; created is false when it
	// already existed (not an error).
	CreateCollection(ctx context.Context, collectionID string) (created bool, err error)
	// IndexFace adds the largest face of image (JPEG or PNG bytes) under
	// externalID. ErrNoFace when there is none, ErrCollectionNotFound.
	IndexFace(ctx context.Context, collectionID, externalID string, image []byte) error
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
// "<MessageSid>#<step>". Begin claims the key: proceed is false when the step
// is already done (the caller skips it and acknowledges the delivery); an
// error wrapping ErrInProgress means another delivery holds a live claim (the
// caller fails so the platform retries later). After the side effect, Done
// records it; on failure, Release drops the claim so a retry can run.
type Ledger interface {
	Begin(ctx context.Context, key string) (proceed bool, err error)
	Done(ctx context.Context, key string) error
	Release(ctx context.Context, key string) error
}

// ErrInProgress is returned by Ledger.Begin while another delivery of the
// same step holds its claim.
var ErrInProgress = errors.New("step in progress in another delivery")

// SMSSender sends one SMS (Twilio's Messages API in the cloud, the phone
// simulator under `crossfaas dev`).
type SMSSender interface {
	Send(ctx context.Context, from, to, body string) error
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
	EnvPrefix             = "CROSSFAAS_PREFIX"                // "<project>-<stack>", namespaces collection ids
	EnvAddCollectionTopic = "SLEUTH_ADDCOL_TOPIC_ARN"         // request -> addcol
	EnvAddImageTopic      = "SLEUTH_ADDIMG_TOPIC_ARN"         // request -> addimg
	EnvMatchTopic         = "SLEUTH_MATCH_TOPIC_ARN"          // request -> match
	EnvResponsesTopic     = "SLEUTH_RESPONSES_TOPIC_ARN"      // command handlers -> respond
	EnvIdempotencyTable   = "SLEUTH_IDEMPOTENCY_TABLE"        // DynamoDB table, key "pk" (string), TTL attribute "expiresAt"
	EnvAccountSIDParam    = "SLEUTH_TWILIO_ACCOUNT_SID_PARAM" // SSM parameter name (SecureString)
	EnvAuthTokenParam     = "SLEUTH_TWILIO_AUTH_TOKEN_PARAM"  // SSM parameter name (SecureString)
	EnvAllowedSenders     = "SLEUTH_ALLOWED_SENDERS"          // optional, comma-separated E.164 numbers
	EnvMatchThreshold     = "SLEUTH_MATCH_THRESHOLD"          // optional, 0-100, default 85
	EnvWebhookURL         = "SLEUTH_WEBHOOK_URL"              // optional, overrides the URL rebuilt from the event (custom domains)
	EnvTwilioAPIURL       = "SLEUTH_TWILIO_API_URL"           // optional, overrides https://api.twilio.com (tests, dev)
	EnvTwilioMediaHosts   = "SLEUTH_TWILIO_MEDIA_HOSTS"       // optional, comma-separated hosts (or host/path-prefix) media may redirect to
	EnvWikipediaURL       = "SLEUTH_WIKIPEDIA_URL"            // optional, overrides https://en.wikipedia.org (tests, dev)
)

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
)
