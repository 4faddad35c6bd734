package request

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// DefaultPublishTimeout bounds the SNS publish, so Twilio (which waits 15 s
// for the webhook) always gets an answer.
const DefaultPublishTimeout = 5 * time.Second

// Config is the request handler's configuration.
type Config struct {
	// Topics maps each command to the ARN of its SNS topic. Required for
	// every verb.
	Topics map[sleuth.Verb]string
	// AllowedSenders lists the phone numbers (E.164) that may use the bot.
	// Empty means everyone.
	AllowedSenders []string
	// WebhookURL, when set, is the URL Twilio signs requests with, used
	// instead of the one rebuilt from the API Gateway event (custom domains,
	// `crossfaas dev`).
	WebhookURL string
	// URLScheme is the scheme of the URL rebuilt from the event (when
	// WebhookURL is empty): "https" when empty, as API Gateway serves only
	// HTTPS. `crossfaas dev`, whose gateway serves plain HTTP on loopback,
	// sets "http", so that a webhook signed for the URL the client used
	// (http://localhost:8787/sms or http://127.0.0.1:8787/sms) passes.
	URLScheme string
	// PublishTimeout bounds the publish of a job. Zero means
	// DefaultPublishTimeout.
	PublishTimeout time.Duration
}

// isE164 reports whether s is an E.164 phone number: "+", then 2 to 15
// digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ConfigFromEnv reads the configuration from the environment variables of
// package sleuth: the three command topics (required),
// SLEUTH_ALLOWED_SENDERS (optional, comma-separated E.164 numbers) and
// SLEUTH_WEBHOOK_URL (optional, absolute http or https URL). Errors name the
// variable at fault.
func ConfigFromEnv() (Config, error) {
	cfg := Config{Topics: map[sleuth.Verb]string{}, PublishTimeout: DefaultPublishTimeout}
	for verb, env := range map[sleuth.Verb]string{
		sleuth.VerbAddCollection: sleuth.EnvAddCollectionTopic,
		sleuth.VerbAddImage:      sleuth.EnvAddImageTopic,
		sleuth.VerbMatch:         sleuth.EnvMatchTopic,
	} {
		arn := strings.TrimSpace(os.Getenv(env))
		if arn == "" {
			return Config{}, fmt.Errorf("request config: %s is not set: it must hold the ARN of the %s topic", env, verb)
		}
		cfg.Topics[verb] = arn
	}
	for number := range strings.SplitSeq(os.Getenv(sleuth.EnvAllowedSenders), ",") {
		number = strings.TrimSpace(number)
		if number == "" {
			continue
		}
		if !isE164(number) {
			return Config{}, fmt.Errorf("request config: %s: %q is not an E.164 phone number like +15551234567", sleuth.EnvAllowedSenders, number)
		}
		cfg.AllowedSenders = append(cfg.AllowedSenders, number)
	}
	if raw := strings.TrimSpace(os.Getenv(sleuth.EnvWebhookURL)); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Config{}, fmt.Errorf("request config: %s: %q is not an absolute http(s) URL", sleuth.EnvWebhookURL, raw)
		}
		cfg.WebhookURL = raw
	}
	return cfg, nil
}
