// Package inspector is the upload inspector Lambda: S3 invokes it for each
// object created under incoming/ in the stack's uploads bucket, and it
//
//  1. checks the object's size and type first: an empty object, one over
//     the size limit, one that is not a JPEG, PNG, GIF, WebP or BMP image,
//     one with too many pixels, and a truncated or corrupt image are tagged
//     with the reason (verdict "rejected") and sent nowhere;
//  2. sends the image's bytes to the labeler through the private link
//     (package federation, the token client the proxy uses), asking for the
//     labels translated into the configured languages;
//  3. writes the result as a JSON sidecar, results/<name>.json (<name> is
//     the key without incoming/), and tags the object (verdict, reason, top
//     labels, engine);
//  4. acts on an unsafe verdict: quarantine moves the object to
//     quarantine/<name>; blur writes a strongly blurred JPEG to
//     public/<name> and quarantines the original; tag only tags. A safe
//     image, and one whose SafeSearch is unknown (an offline engine has
//     none), stays where it is, tagged.
//
// # Delivery, retries and idempotency
//
// S3 invokes the function asynchronously, so Lambda retries a failed
// invocation twice and then sends the event, with the object's key and the
// error, to the on-failure destination (an SQS queue; see the stack). An
// object is identified by its version id (the stack versions the bucket),
// or by its ETag and sequencer without one. The sidecar records that
// identity and a state: "acting" once the verdict is known and an action
// is due, "done" at the end. A delivery whose sidecar is done for the same
// version does nothing; one whose sidecar is acting resumes the action
// without asking the labeler again. The move is copy then delete, of that
// version only (a newer upload under the same key is never touched): a
// crash between them leaves the original in place and its copy in
// quarantine, and the next delivery copies again (the same bytes) and
// deletes. Nothing is deleted before its copy exists.
//
// Two deliveries of one event at the same moment, on two instances, may
// both ask the labeler; the actions they take are the same and the result
// converges.
package inspector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/crossfaas/crossfaas/federation"
)

// Prefixes of the uploads bucket.
const (
	IncomingPrefix   = "incoming/"
	ResultsPrefix    = "results/"
	QuarantinePrefix = "quarantine/"
	PublicPrefix     = "public/"
)

// Actions on an unsafe image (crossfaas:safeSearchAction).
const (
	ActionQuarantine = "quarantine"
	ActionBlur       = "blur"
	ActionTag        = "tag"
)

// Environment variables of the function; the stack sets them.
const (
	EnvLabelerURL       = "LABELER_URL"
	EnvCredentialConfig = "LABELER_CREDENTIAL_CONFIG"
	EnvMaxBytes         = "INSPECTOR_MAX_BYTES"
	EnvLanguages        = "INSPECTOR_LANGUAGES"
	EnvAction           = "INSPECTOR_ACTION"
)

// DefaultMaxBytes is the size limit without INSPECTOR_MAX_BYTES: 10 MiB.
const DefaultMaxBytes = 10 << 20

// MaxPixels is the largest image inspected, in pixels (Vision's own
// limit is 75 megapixels; 25 keeps labeling fast). Larger images are
// refused from their header.
const MaxPixels = 25_000_000

// MaxDecodeBytes bounds the memory an image may take to decode, as
// estimated from its header (see decodeBytes): 96 MiB beside the object's
// 10 MiB, the blurred copy's few MiB and the runtime's 20 or so keep a
// 256 MB function's peak under its memory, the collector's slack (the
// bootstrap sets GOMEMLIMIT to 80% of it) included. 25 megapixels of 8-bit
// baseline JPEG fit; a 16-bit PNG fits up to 12.5 megapixels, a
// progressive JPEG (whose decoder keeps every DCT coefficient) up to about
// 13 (4:2:0) or 6.7 (4:4:4).
const MaxDecodeBytes = 96 << 20

// labelerMargin is the part of the invocation's time kept from the labeler
// call for the S3 work after it.
const labelerMargin = 5 * time.Second

// Config is the inspector's configuration, read once at cold start.
type Config struct {
	// LabelerURL is the labeler's URL (http or https, with a host).
	LabelerURL *url.URL
	// Credentials is the private link's credential configuration; nil for
	// a public labeler.
	Credentials *federation.CredentialConfig
	// MaxBytes is the largest object inspected; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Languages are the languages the labels are translated into.
	Languages []string
	// Action is ActionQuarantine, ActionBlur or ActionTag; "" means
	// ActionQuarantine.
	Action string
}

// ConfigFromEnv reads the configuration from the environment. The error
// names the variable that is missing or wrong.
func ConfigFromEnv() (Config, error) {
	return configFrom(os.Getenv)
}

func configFrom(getenv func(string) string) (Config, error) {
	var cfg Config
	raw := strings.TrimSpace(getenv(EnvLabelerURL))
	if raw == "" {
		return Config{}, fmt.Errorf("inspector config: %s is not set: it must hold the labeler's URL", EnvLabelerURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return Config{}, fmt.Errorf("inspector config: %s=%q is not an http(s) URL with a host", EnvLabelerURL, raw)
	}
	cfg.LabelerURL = u
	if raw := strings.TrimSpace(getenv(EnvCredentialConfig)); raw != "" {
		c, err := federation.ParseCredentialConfig([]byte(raw))
		if err != nil {
			return Config{}, fmt.Errorf("inspector config: %s: %w", EnvCredentialConfig, err)
		}
		cfg.Credentials = &c
	}
	if raw := strings.TrimSpace(getenv(EnvMaxBytes)); raw != "" {
		var n int64
		if _, err := fmt.Sscan(raw, &n); err != nil || n <= 0 || fmt.Sprint(n) != raw {
			return Config{}, fmt.Errorf("inspector config: %s=%q is not a positive number of bytes", EnvMaxBytes, raw)
		}
		cfg.MaxBytes = n
	}
	langs, err := parseLanguages(getenv(EnvLanguages))
	if err != nil {
		return Config{}, fmt.Errorf("inspector config: %s: %w", EnvLanguages, err)
	}
	cfg.Languages = langs
	cfg.Action = strings.TrimSpace(getenv(EnvAction))
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (c Config) validate() error {
	switch c.Action {
	case "", ActionQuarantine, ActionBlur, ActionTag:
	default:
		return fmt.Errorf("inspector config: %s=%q: want %s, %s or %s", EnvAction, c.Action, ActionQuarantine, ActionBlur, ActionTag)
	}
	if c.LabelerURL == nil {
		return errors.New("inspector config: no labeler URL")
	}
	return nil
}

// parseLanguages parses "es,fr,de": two- or three-letter codes with an
// optional region or script ("zh-CN"). The labeler checks them again.
func parseLanguages(raw string) ([]string, error) {
	var langs []string
	for code := range strings.SplitSeq(raw, ",") {
		code = strings.TrimSpace(code)
		if code == "" {
			continue
		}
		base, _, _ := strings.Cut(code, "-")
		if len(base) < 2 || len(base) > 3 || strings.ToLower(base) != base || strings.ContainsFunc(code, func(r rune) bool {
			return !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			return nil, fmt.Errorf("%q is not a language code such as es, fr or zh-CN", code)
		}
		langs = append(langs, code)
	}
	return langs, nil
}

// HTTPClientFor returns the client the inspector calls the labeler with:
// a plain one for a public labeler, one that authenticates with ID tokens
// of the private link (federation.Source over the Lambda's role
// credentials) for a private one. It makes no request.
func HTTPClientFor(cfg Config) (*http.Client, error) {
	client, _, err := LabelerClient(cfg)
	return client, err
}

// LabelerClient is HTTPClientFor that also returns the private link's
// token source (nil for a public labeler), for Handler.PrefetchTokens.
func LabelerClient(cfg Config) (*http.Client, *federation.Source, error) {
	base := &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     60 * time.Second,
			TLSHandshakeTimeout: 5 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.Credentials == nil {
		return base, nil, nil
	}
	tokens, err := federation.NewSource(federation.Options{
		Config:   *cfg.Credentials,
		Audience: federation.AudienceOf(cfg.LabelerURL),
		Client:   &http.Client{Transport: base.Transport.(*http.Transport).Clone()},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("inspector config: %s: %w", EnvCredentialConfig, err)
	}
	return federation.AuthenticatedClient(base, tokens), tokens, nil
}

// Handler inspects uploads. It is safe for concurrent use.
type Handler struct {
	s3      *s3.Client
	labeler *http.Client
	cfg     Config
	logger  *slog.Logger
	now     func() time.Time
	// tokens, when set, is asked for the labeler's ID token as soon as an
	// inspection starts, so that the private link's exchange (two calls
	// to Google) overlaps the S3 reads instead of following them.
	tokens interface {
		Token(context.Context) (federation.Token, error)
	}
}

// PrefetchTokens makes each inspection ask src for the labeler's ID token
// at its start, in the background; the labeler's call then takes the
// token src has, or waits for the same exchange. nil turns it off.
func (h *Handler) PrefetchTokens(src *federation.Source) {
	if src == nil {
		h.tokens = nil
		return
	}
	h.tokens = src
}

// New returns a Handler that reads and writes objects with store and calls
// the labeler with client (see HTTPClientFor). A nil logger discards the
// logs; a nil now means time.Now.
func New(cfg Config, store *s3.Client, client *http.Client, logger *slog.Logger, now func() time.Time) (*Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if store == nil || client == nil {
		return nil, errors.New("new inspector: an S3 client and an HTTP client are required")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Action == "" {
		cfg.Action = ActionQuarantine
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Handler{s3: store, labeler: client, cfg: cfg, logger: logger, now: now}, nil
}

// Handle inspects every object of an S3 event. It returns an error, so
// that Lambda retries the event, when an object could not be inspected for
// a reason that may pass (S3, the labeler or the private link failing);
// objects that are not images are a verdict, not an error. Records already
// handled are skipped on the retry.
func (h *Handler) Handle(ctx context.Context, ev events.S3Event) error {
	var errs []error
	for _, rec := range ev.Records {
		if err := h.inspect(ctx, rec); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// S3Options adjusts the S3 client: with an endpoint override
// (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, for a local S3 such as the
// tests' and crossfaas dev's), requests are path-style, as local S3s
// expect; against AWS the SDK's virtual-hosted style is kept.
func S3Options(o *s3.Options) {
	if o.BaseEndpoint != nil {
		o.UsePathStyle = true
	}
}
