// Package request is CelebritySleuth's request Lambda: the webhook Twilio
// calls for every SMS sent to the bot (POST /sms on the HTTP API).
//
// It checks the X-Twilio-Signature, parses the command and answers at once
// with TwiML: an acknowledgement after publishing the command as a
// sleuth.Job to the command's topic, or the usage text. The slow work
// (Rekognition, the reply SMS) happens in the command Lambdas.
//
// Answers, by case:
//
//   - not a POST: 405; not a form body, or a malformed one: 4xx, text/plain;
//   - no Twilio auth token to check signatures with (none configured, its
//     read from SSM failed, or the request's context ended while waiting
//     for it): 500, text/plain, nothing published;
//   - no signature, or one that does not match the URL and parameters:
//     403, text/plain, nothing published;
//   - a signed request that is not an SMS webhook (no MessageSid, From or
//     To): 400;
//   - a sender not on the allow-list: 200 TwiML saying the number is not
//     allowed. A 403 would show as a failed webhook in Twilio's debugger
//     and leave the user without an answer; a polite reply is friendlier;
//   - help, or a usage mistake: 200 TwiML with the explanation;
//   - a well-formed command: the job is published, then 200 TwiML "Got
//     it...";
//   - publishing fails or times out: 200 TwiML asking the user to try
//     again, and the error is logged. Twilio does not retry SMS webhooks on
//     a 5xx, so a 5xx would only leave the user without an answer.
package request

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/twilio/twilio-go/client"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/command"
)

// Replies sent by TwiML, besides the usage errors of package command. Plain
// ASCII keeps them in the GSM-7 alphabet (160 characters per SMS).
const (
	replyNotAllowed = "Sorry, this number is not allowed to use CelebritySleuth."
	replyTryAgain   = "Sorry, something went wrong, please try again."
)

// Deps are the handler's collaborators.
type Deps struct {
	// Publisher publishes jobs. Required.
	Publisher sleuth.Publisher
	// AuthToken is the Twilio auth token that signs webhooks. When empty,
	// every request is refused with a 500, never accepted unchecked.
	// (FromEnv reads it from SSM instead.)
	AuthToken string
	// Logger receives one record per request. Nil means
	// lambdacontext.NewLogger().
	Logger *slog.Logger
	// Now is the clock, for timing the publish. Nil means time.Now.
	Now func() time.Time
}

// Handler handles Twilio's SMS webhooks. Build it once per execution
// environment with New or FromEnv; Handle is safe for concurrent use.
type Handler struct {
	cfg       Config
	publisher sleuth.Publisher
	allowed   map[string]bool // nil: everyone
	logger    *slog.Logger
	now       func() time.Time

	// ready is closed once validator and tokenErr are final: at once for a
	// handler from New, when the read of the auth token ends for one from
	// FromEnv. Neither changes afterwards.
	ready     chan struct{}
	validator client.RequestValidator
	tokenErr  error // why there is no auth token; nil when validator holds one
}

// errNoAuthToken is the reason a handler built with an empty auth token
// refuses every request.
var errNoAuthToken = errors.New("no Twilio auth token configured")

// New returns a handler for cfg and deps.
func New(cfg Config, deps Deps) *Handler {
	h := newHandler(cfg, deps)
	h.setAuthToken(deps.AuthToken, nil)
	return h
}

// newHandler returns a handler still waiting for its auth token (see
// setAuthToken); deps.AuthToken is ignored.
func newHandler(cfg Config, deps Deps) *Handler {
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	h := &Handler{
		cfg:       cfg,
		publisher: deps.Publisher,
		logger:    deps.Logger,
		now:       deps.Now,
		ready:     make(chan struct{}),
	}
	if h.logger == nil {
		h.logger = lambdacontext.NewLogger()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if len(cfg.AllowedSenders) > 0 {
		h.allowed = make(map[string]bool, len(cfg.AllowedSenders))
		for _, n := range cfg.AllowedSenders {
			h.allowed[n] = true
		}
	}
	return h
}

// setAuthToken gives the handler its auth token, or the error that kept it
// from getting one, and makes it ready. It must be called exactly once.
func (h *Handler) setAuthToken(token string, err error) {
	if err == nil && token == "" {
		err = errNoAuthToken
	}
	if err == nil {
		h.validator = client.NewRequestValidator(token)
	}
	h.tokenErr = err
	close(h.ready)
}

// Ready waits until the handler has its Twilio auth token or ctx ends. It
// returns nil when the handler can check signatures; otherwise why not: the
// error of reading the token (a handler from FromEnv), an error for an
// empty Deps.AuthToken (New), or ctx's. After the first return other than
// ctx's, the answer never changes.
//
// Handle waits the same way and answers 500 when there is no token. A
// Lambda bootstrap calls Ready before Handle to exit instead, so that
// Lambda reports the failure and starts a fresh execution environment.
func (h *Handler) Ready(ctx context.Context) error {
	select {
	case <-h.ready:
		return h.tokenErr
	default:
	}
	select {
	case <-h.ready:
		return h.tokenErr
	case <-ctx.Done():
		return fmt.Errorf("request: wait for the twilio auth token: %w", context.Cause(ctx))
	}
}

// Handle answers one webhook call; see the package documentation for the
// answers. The error is always nil: every outcome is an HTTP response.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	log := h.logger.With("apiRequestId", ev.RequestContext.RequestID)
	if method := ev.RequestContext.HTTP.Method; method != "" && method != http.MethodPost {
		log.WarnContext(ctx, "webhook refused", "status", http.StatusMethodNotAllowed, "method", method)
		resp := plain(http.StatusMethodNotAllowed, "method "+method+" not allowed: Twilio webhooks are POST")
		resp.Headers["Allow"] = http.MethodPost
		return resp, nil
	}
	if err := h.Ready(ctx); err != nil {
		log.ErrorContext(ctx, "webhook refused: no Twilio auth token", "error", err)
		return plain(http.StatusInternalServerError, "webhook not configured"), nil
	}
	params, err := decodeWebhook(ev)
	if err != nil {
		return h.refuse(ctx, log, err), nil
	}
	if err := h.verify(ev, params); err != nil {
		return h.refuse(ctx, log, err), nil
	}
	sms, err := parseInbound(params)
	if err != nil {
		return h.refuse(ctx, log, err), nil
	}
	log = log.With("sid", sms.MessageSid, "from", sleuth.MaskNumber(sms.From))
	if h.allowed != nil && !h.allowed[sms.From] {
		log.InfoContext(ctx, "sender not allowed")
		return twiml(replyNotAllowed), nil
	}

	parsed, err := command.ParseMessage(sms.Body, sms.contentTypes())
	if err != nil {
		var usage *command.Error
		if !errors.As(err, &usage) {
			// ParseMessage only returns usage errors; anything else is a bug.
			log.ErrorContext(ctx, "command rejected with an unexpected error", "error", err)
			return twiml(replyTryAgain), nil
		}
		log.InfoContext(ctx, "usage error", "kind", usage.Kind.Error(), "numMedia", len(sms.Media))
		return twiml(usage.Msg), nil
	}
	if parsed.Help() {
		log.InfoContext(ctx, "help sent")
		return twiml(command.Usage), nil
	}

	job := sleuth.Job{
		Command:    parsed.Verb,
		Collection: parsed.Collection,
		Name:       parsed.Name,
		From:       sms.From,
		To:         sms.To,
		MessageSid: sms.MessageSid,
	}
	if parsed.NeedsImage() {
		job.MediaURL, job.MediaContentType = sms.Media[0].URL, sms.Media[0].ContentType
	}
	topic := h.cfg.Topics[parsed.Verb]
	log = log.With("command", string(parsed.Verb), "collection", parsed.Collection, "topic", topic)
	took, err := h.publish(ctx, topic, job)
	log = log.With("publishMs", took.Milliseconds())
	if err != nil {
		log.ErrorContext(ctx, "job not published", "error", err)
		return twiml(replyTryAgain), nil
	}
	log.InfoContext(ctx, "job published")
	return twiml(ack(parsed)), nil
}

// verify checks the request's X-Twilio-Signature against the webhook URL and
// params. Errors are *httpError with status 403.
func (h *Handler) verify(ev events.APIGatewayV2HTTPRequest, params map[string]string) error {
	signature := header(ev.Headers, "X-Twilio-Signature")
	if signature == "" {
		return errorf(http.StatusForbidden, "missing X-Twilio-Signature")
	}
	u := h.cfg.WebhookURL
	if u == "" {
		var err error
		if u, err = rebuildURL(ev, h.cfg.URLScheme); err != nil {
			return errorf(http.StatusForbidden, "cannot check X-Twilio-Signature: %v", err)
		}
	}
	if !h.validator.Validate(u, params, signature) {
		return &httpError{status: http.StatusForbidden, msg: "invalid X-Twilio-Signature for " + u}
	}
	return nil
}

// publish publishes job to topic within the publish timeout and returns
// how long the publisher took.
func (h *Handler) publish(ctx context.Context, topic string, job sleuth.Job) (time.Duration, error) {
	if topic == "" {
		return 0, errors.New("publish: no topic configured for " + string(job.Command))
	}
	message, err := json.Marshal(job)
	if err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	start := h.now()
	err = h.publisher.Publish(ctx, topic, message)
	return h.now().Sub(start), err
}

// refuse logs err (an *httpError) and answers with it.
func (h *Handler) refuse(ctx context.Context, log *slog.Logger, err error) events.APIGatewayV2HTTPResponse {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{status: http.StatusBadRequest, msg: err.Error()}
	}
	log.WarnContext(ctx, "webhook refused", "status", he.status, "reason", he.msg)
	return plain(he.status, he.msg)
}

// ack is the acknowledgement of an accepted command.
func ack(p command.Parsed) string {
	switch p.Verb {
	case sleuth.VerbAddCollection:
		return "Got it - creating collection " + p.Collection + "..."
	case sleuth.VerbAddImage:
		return "Got it - adding " + command.DisplayName(p.Name) + " to " + p.Collection + "..."
	default:
		return "Got it - looking for this face in " + p.Collection + "..."
	}
}

// twiml answers with a TwiML message.
func twiml(message string) events.APIGatewayV2HTTPResponse {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Response><Message>")
	xml.EscapeText(&b, []byte(message)) // also replaces characters XML forbids
	b.WriteString("</Message></Response>")
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "text/xml; charset=utf-8"},
		Body:       b.String(),
	}
}

// plain answers with a short text/plain body.
func plain(status int, message string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
		Body:       message + "\n",
	}
}
