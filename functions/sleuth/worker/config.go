package worker

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
)

// DefaultThreshold is the similarity (0-100) a face must reach to match
// when SLEUTH_MATCH_THRESHOLD is not set.
const DefaultThreshold = 85

// Config is what the worker-side Lambdas read from the environment. Which
// fields are required depends on the handler; see ConfigFromEnv.
type Config struct {
	// Prefix namespaces collection ids: "<project>-<stack>" gives
	// Rekognition collection "<project>-<stack>-<name>".
	Prefix string
	// ResponsesTopicARN is where command handlers publish their Reply.
	ResponsesTopicARN string
	// Threshold is the minimum similarity of a match, 0-100.
	Threshold float64
	// IdempotencyTable is the DynamoDB table of the Ledger.
	IdempotencyTable string
	// TwilioAPIURL overrides https://api.twilio.com when not empty.
	TwilioAPIURL string
	// MediaHosts are the hosts a media URL may redirect to (media URLs
	// themselves must be on the Twilio API's host); nil means
	// twilio.DefaultMediaHosts.
	MediaHosts []string
	// WikipediaURL overrides https://en.wikipedia.org when not empty.
	WikipediaURL string
	// AccountSIDParam and AuthTokenParam name the SSM SecureString
	// parameters of the Twilio credentials (respond, failure, addimg and
	// match).
	AccountSIDParam, AuthTokenParam string
	// Now is the clock of the ledger and of the attempt markers; nil means
	// time.Now.
	Now func() time.Time
	// FunctionTimeout is the function's timeout as the stack set it: the
	// work of an invocation ends with it, and its claims LeaseMargin later.
	// Zero means DefaultFunctionTimeout.
	FunctionTimeout time.Duration
}

// DefaultFunctionTimeout is the worker timeout the stack sets by default.
const DefaultFunctionTimeout = 60 * time.Second

// maxFunctionTimeout is Lambda's longest timeout.
const maxFunctionTimeout = 900 * time.Second

func (cfg Config) timeout() time.Duration {
	if cfg.FunctionTimeout <= 0 {
		return DefaultFunctionTimeout
	}
	return cfg.FunctionTimeout
}

// maxPrefix is the longest prefix: it becomes part of Rekognition
// collection ids, [a-zA-Z0-9_.-]{1,255}, which must also leave room for the
// user's collection name (64 characters at most).
const maxPrefix = 128

// validPrefix reports whether s may be a prefix: 1 to maxPrefix letters,
// digits, '_' and '-'; never sleuth.CollectionSeparator, so that one
// stack's collection ids never start with another's prefix and separator.
func validPrefix(s string) bool {
	return isID(s, maxPrefix, false) && !strings.Contains(s, sleuth.CollectionSeparator)
}

// isCollectionName reports whether s is a user's collection name as
// package command accepts it.
func isCollectionName(s string) bool {
	return isID(s, maxID, true) && !strings.Contains(s, sleuth.CollectionSeparator)
}

// isSid reports whether s may be a Twilio MessageSid: 1 to 64 ASCII
// letters and digits (it ends up in face external ids).
func isSid(s string) bool {
	if len(s) == 0 || len(s) > maxID {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}

// isID reports whether s is 1 to max bytes of digits, '_', '.', '-' and
// letters, lower-case only when lower is set.
//
// A loop rather than a regexp: a bounded repetition such as `{1,128}`
// compiles to that many copies of the class, which cost every cold start
// of the sleuth Lambdas a third of a millisecond.
func isID(s string, max int, lower bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		case 'A' <= c && c <= 'Z' && !lower:
		default:
			return false
		}
	}
	return true
}

// ConfigFromEnv reads the configuration of handler (one of the sleuth
// command handlers, "respond", "failure" or "cleanup") from the
// environment. Every handler but cleanup needs SLEUTH_IDEMPOTENCY_TABLE
// and SLEUTH_FUNCTION_TIMEOUT_SECONDS; command handlers and cleanup need
// CROSSFAAS_PREFIX; command handlers also SLEUTH_RESPONSES_TOPIC_ARN.
// SLEUTH_MATCH_THRESHOLD, SLEUTH_TWILIO_API_URL, SLEUTH_TWILIO_MEDIA_HOSTS
// and SLEUTH_WIKIPEDIA_URL are optional. (The Twilio credentials' SSM parameter names are read by
// awsenv.SecretsFromEnv.) Errors name the variable at fault.
func ConfigFromEnv(handler string) (Config, error) {
	cfg := Config{Threshold: DefaultThreshold}
	var missing []string
	require := func(env string, dst *string) {
		*dst = strings.TrimSpace(os.Getenv(env))
		if *dst == "" {
			missing = append(missing, env)
		}
	}
	var timeout string
	switch handler {
	case sleuth.HandlerAddCollection, sleuth.HandlerAddImage, sleuth.HandlerMatch:
		require(sleuth.EnvIdempotencyTable, &cfg.IdempotencyTable)
		require(sleuth.EnvFunctionTimeout, &timeout)
		require(sleuth.EnvPrefix, &cfg.Prefix)
		require(sleuth.EnvResponsesTopic, &cfg.ResponsesTopicARN)
	case sleuth.HandlerRespond, sleuth.HandlerFailure:
		require(sleuth.EnvIdempotencyTable, &cfg.IdempotencyTable)
		require(sleuth.EnvFunctionTimeout, &timeout)
	case sleuth.HandlerCleanup:
		require(sleuth.EnvPrefix, &cfg.Prefix)
	default:
		return Config{}, fmt.Errorf("worker config: unknown handler %q", handler)
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("worker config: %s not set (handler %s)", strings.Join(missing, ", "), handler)
	}
	if timeout != "" {
		n, err := strconv.Atoi(timeout)
		if err != nil || n < 1 || time.Duration(n)*time.Second > maxFunctionTimeout {
			return Config{}, fmt.Errorf("worker config: %s: %q is not a number of seconds from 1 to 900", sleuth.EnvFunctionTimeout, timeout)
		}
		cfg.FunctionTimeout = time.Duration(n) * time.Second
	}
	if cfg.Prefix != "" && !validPrefix(cfg.Prefix) {
		return Config{}, fmt.Errorf("worker config: %s: %q may only hold letters, digits, _ and - (at most 128)", sleuth.EnvPrefix, cfg.Prefix)
	}
	if raw := strings.TrimSpace(os.Getenv(sleuth.EnvMatchThreshold)); raw != "" {
		t, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(t) || t < 0 || t > 100 {
			return Config{}, fmt.Errorf("worker config: %s: %q is not a number from 0 to 100", sleuth.EnvMatchThreshold, raw)
		}
		cfg.Threshold = t
	}
	cfg.AccountSIDParam = strings.TrimSpace(os.Getenv(sleuth.EnvAccountSIDParam))
	cfg.AuthTokenParam = strings.TrimSpace(os.Getenv(sleuth.EnvAuthTokenParam))
	cfg.TwilioAPIURL = strings.TrimSpace(os.Getenv(sleuth.EnvTwilioAPIURL))
	if cfg.TwilioAPIURL != "" && !isBaseURL(cfg.TwilioAPIURL) {
		return Config{}, fmt.Errorf("worker config: %s: %q is not an absolute http(s) URL", sleuth.EnvTwilioAPIURL, cfg.TwilioAPIURL)
	}
	hosts, err := twilio.ParseHosts(os.Getenv(sleuth.EnvTwilioMediaHosts))
	if err != nil {
		return Config{}, fmt.Errorf("worker config: %s: %w", sleuth.EnvTwilioMediaHosts, err)
	}
	cfg.MediaHosts = hosts
	cfg.WikipediaURL = strings.TrimSpace(os.Getenv(sleuth.EnvWikipediaURL))
	if cfg.WikipediaURL != "" && !isBaseURL(cfg.WikipediaURL) {
		return Config{}, fmt.Errorf("worker config: %s: %q is not an absolute http(s) URL", sleuth.EnvWikipediaURL, cfg.WikipediaURL)
	}
	return cfg, nil
}

func isBaseURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == ""
}
