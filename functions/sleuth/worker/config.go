package worker

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"

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
}

// maxPrefix is the longest prefix: it becomes part of Rekognition
// collection ids, [a-zA-Z0-9_.-]{1,255}, which must also leave room for the
// user's collection name (64 characters at most).
const maxPrefix = 128

// validPrefix reports whether s may be a prefix: 1 to maxPrefix letters,
// digits, '_', '.' and '-'.
func validPrefix(s string) bool { return isID(s, maxPrefix, false) }

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
// command handlers, "respond" or "failure") from the environment. Every
// handler needs SLEUTH_IDEMPOTENCY_TABLE; command handlers also need
// CROSSFAAS_PREFIX and SLEUTH_RESPONSES_TOPIC_ARN. SLEUTH_MATCH_THRESHOLD,
// SLEUTH_TWILIO_API_URL, SLEUTH_TWILIO_MEDIA_HOSTS and SLEUTH_WIKIPEDIA_URL
// are optional. (The Twilio credentials' SSM parameter names are read by
// awsx.SecretsFromEnv.) Errors name the variable at fault.
func ConfigFromEnv(handler string) (Config, error) {
	cfg := Config{Threshold: DefaultThreshold}
	var missing []string
	require := func(env string, dst *string) {
		*dst = strings.TrimSpace(os.Getenv(env))
		if *dst == "" {
			missing = append(missing, env)
		}
	}
	require(sleuth.EnvIdempotencyTable, &cfg.IdempotencyTable)
	switch handler {
	case sleuth.HandlerAddCollection, sleuth.HandlerAddImage, sleuth.HandlerMatch:
		require(sleuth.EnvPrefix, &cfg.Prefix)
		require(sleuth.EnvResponsesTopic, &cfg.ResponsesTopicARN)
	case sleuth.HandlerRespond, sleuth.HandlerFailure:
	default:
		return Config{}, fmt.Errorf("worker config: unknown handler %q", handler)
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("worker config: %s not set (handler %s)", strings.Join(missing, ", "), handler)
	}
	if cfg.Prefix != "" && !validPrefix(cfg.Prefix) {
		return Config{}, fmt.Errorf("worker config: %s: %q may only hold letters, digits, _ . - (at most 128)", sleuth.EnvPrefix, cfg.Prefix)
	}
	if raw := strings.TrimSpace(os.Getenv(sleuth.EnvMatchThreshold)); raw != "" {
		t, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(t) || t < 0 || t > 100 {
			return Config{}, fmt.Errorf("worker config: %s: %q is not a number from 0 to 100", sleuth.EnvMatchThreshold, raw)
		}
		cfg.Threshold = t
	}
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
