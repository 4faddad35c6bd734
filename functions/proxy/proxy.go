// Package proxy is the AWS Lambda behind the HTTP API route GET /detect. It
// checks the caller's imageUri with the rule the labeler applies
// (package imageuri) and forwards the request to the labeler Cloud Function,
// whose URL the stack puts in LABELER_URL, passing the labeler's status and
// JSON body back to the caller. Each forwarded request carries a W3C
// traceparent (the caller's trace continued, else a new one) whose trace id
// both the proxy and the labeler log as traceId, so `crossfaas logs` can
// follow one request across the two clouds.
//
// Every answer is JSON. What the proxy answers itself:
//
//   - 404 for any path but /detect, 405 (with Allow: GET) for other methods;
//   - 400 when imageUri is malformed, empty or repeated, before any call to
//     the labeler (without imageUri the labeler labels its default image);
//   - 504 when the labeler does not answer before the invocation's deadline
//     minus a safety margin, so the caller gets an answer before Lambda kills
//     the invocation;
//   - 502 when the labeler cannot be reached (connection refused, DNS, TLS),
//     when the proxy cannot get an identity token for a private labeler
//     (Google's token exchange failed: the message names the step), when
//     the labeler's body exceeds MaxUpstreamBody, or when it does not reply
//     with JSON. A reply that is not JSON comes from something in front of the
//     labeler (Google's front end: an HTML 403 for a missing IAM binding, a
//     404 for a wrong URL, a 5xx page) or from a labeler bug; passing it on
//     would break the proxy's JSON contract and blame the caller for a
//     misconfiguration, so it becomes a 502 naming the labeler's status. The
//     one exception is 429, kept as 429 (with Retry-After) because it tells
//     the caller to back off and retry.
//
// The labeler's JSON replies, errors included (a 400 or 422 for an image it
// cannot label), pass through with their status and Content-Type.
//
// A private labeler (the default) only answers callers with a Google ID
// token of one service account. With LABELER_CREDENTIAL_CONFIG set, the
// proxy gets those tokens through workload identity federation from its own
// Lambda role credentials (package federation): lazily, at the first
// labeler call and not at cold start, cached for the hour they live and
// refreshed in the background five minutes before they expire.
package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
	"github.com/crossfaas/crossfaas/functions/labeler/traceparent"
)

// EnvLabelerURL is the environment variable holding the labeler's URL.
const EnvLabelerURL = "LABELER_URL"

// Route is the only path the proxy serves.
const Route = "/detect"

// QueryParam is the query parameter naming the image, for the proxy and the
// labeler alike.
const QueryParam = "imageUri"

// MaxUpstreamBody is the largest labeler body the proxy relays, in bytes.
// Label lists are a few KiB; anything near this limit is not a labeler reply.
const MaxUpstreamBody = 1 << 20

// DefaultDeadlineMargin is the part of the invocation's remaining time kept
// back from the labeler call so the proxy can still answer 504 itself.
const DefaultDeadlineMargin = 500 * time.Millisecond

// DefaultMaxUpstreamTimeout caps the labeler call when the invocation has
// more time left (or no deadline at all, as under `crossfaas dev`): API
// Gateway HTTP APIs give up on an integration after 30 seconds.
const DefaultMaxUpstreamTimeout = 29 * time.Second

// Config is the proxy's configuration, read once at cold start.
type Config struct {
	// LabelerURL is the labeler's URL: absolute, http or https, with a host.
	// Its own query parameters, if any, are kept; imageUri is set on top.
	LabelerURL *url.URL
	// Credentials is the credential configuration for a private labeler
	// (LABELER_CREDENTIAL_CONFIG); nil for a public one. ClientFor uses it.
	Credentials *federation.CredentialConfig
	// DeadlineMargin is kept back from the invocation's remaining time when
	// the labeler is called. Zero means DefaultDeadlineMargin.
	DeadlineMargin time.Duration
	// MaxUpstreamTimeout caps the labeler call. Zero means
	// DefaultMaxUpstreamTimeout.
	MaxUpstreamTimeout time.Duration
}

// ConfigFromEnv reads the configuration from the environment: LABELER_URL
// is required and must be an absolute http(s) URL; LABELER_CREDENTIAL_CONFIG,
// if set, must be a valid credential configuration. The error names the
// variable and says what is wrong with it.
func ConfigFromEnv() (Config, error) {
	raw, ok := os.LookupEnv(EnvLabelerURL)
	if !ok || strings.TrimSpace(raw) == "" {
		return Config{}, fmt.Errorf("proxy config: %s is not set: it must hold the labeler's URL", EnvLabelerURL)
	}
	u, err := ParseLabelerURL(raw)
	if err != nil {
		return Config{}, fmt.Errorf("proxy config: %s: %w", EnvLabelerURL, err)
	}
	creds, err := credentialConfigFromEnv()
	if err != nil {
		return Config{}, err
	}
	return Config{LabelerURL: u, Credentials: creds}, nil
}

// ParseLabelerURL parses raw as the labeler's URL: an absolute http or https
// URL with a host, without credentials or fragment.
func ParseLabelerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("parse labeler url %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("labeler url %q: scheme must be http or https", raw)
	case u.Host == "":
		return nil, fmt.Errorf("labeler url %q: no host", raw)
	case u.User != nil:
		return nil, fmt.Errorf("labeler url %q: must not carry credentials", raw)
	case u.Fragment != "":
		return nil, fmt.Errorf("labeler url %q: must not have a fragment", raw)
	}
	return u, nil
}

// Handler serves API Gateway HTTP API (payload v2) events for GET /detect.
// It is safe for concurrent use.
type Handler struct {
	labeler     *url.URL
	client      *http.Client
	logger      *slog.Logger
	margin      time.Duration
	maxUpstream time.Duration
}

// New returns a Handler for cfg, which should come from ConfigFromEnv or
// carry a LabelerURL checked by ParseLabelerURL; without one, valid requests
// get a 500. A nil client means NewClient(); a nil logger discards the logs.
func New(cfg Config, client *http.Client, logger *slog.Logger) *Handler {
	if client == nil {
		client = NewClient()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		labeler:     cfg.LabelerURL,
		client:      client,
		logger:      logger,
		margin:      cfg.DeadlineMargin,
		maxUpstream: cfg.MaxUpstreamTimeout,
	}
	if h.margin <= 0 {
		h.margin = DefaultDeadlineMargin
	}
	if h.maxUpstream <= 0 {
		h.maxUpstream = DefaultMaxUpstreamTimeout
	}
	return h
}

// outcome is what one invocation did, for the response and its log line.
type outcome struct {
	status          int
	body            []byte
	contentType     string
	retryAfter      string
	allow           string
	imageURI        string
	upstreamStatus  int           // 0 when the labeler was not called or did not answer
	upstreamLatency time.Duration // 0 when the labeler was not called
	reason          string        // why the proxy answered itself; empty on pass-through
	traceID         string        // the trace sent to the labeler; empty when it was not called
}

// Handle answers one API Gateway HTTP API request. Its error is always nil:
// the caller's mistakes and the labeler's failures become JSON responses, so
// Lambda never reports a function error for them.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	out := h.serve(ctx, req)

	level := slog.LevelInfo
	if out.status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("method", req.RequestContext.HTTP.Method),
		slog.String("path", req.RawPath),
		slog.Int("status", out.status),
		slog.Float64("durationMs", millis(time.Since(start))),
	}
	if out.imageURI != "" {
		attrs = append(attrs, slog.String("imageUri", imageuri.ForLog(out.imageURI)))
	}
	if out.upstreamStatus > 0 {
		attrs = append(attrs, slog.Int("upstreamStatus", out.upstreamStatus))
	}
	if out.upstreamLatency > 0 {
		attrs = append(attrs, slog.Float64("upstreamLatencyMs", millis(out.upstreamLatency)))
	}
	if out.reason != "" {
		attrs = append(attrs, slog.String("reason", out.reason))
	}
	if out.traceID != "" {
		attrs = append(attrs, slog.String("traceId", out.traceID))
	}
	h.logger.LogAttrs(ctx, level, "detect", attrs...)

	headers := map[string]string{"Content-Type": out.contentType}
	if out.retryAfter != "" {
		headers["Retry-After"] = out.retryAfter
	}
	if out.allow != "" {
		headers["Allow"] = out.allow
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: out.status,
		Headers:    headers,
		Body:       string(out.body),
	}, nil
}

// serve routes the request, validates it and calls the labeler.
func (h *Handler) serve(ctx context.Context, req events.APIGatewayV2HTTPRequest) outcome {
	if routePath(req) != Route {
		return errorOutcome(http.StatusNotFound, "no route for "+truncate(req.RawPath, 256)+": use GET "+Route+"?"+QueryParam+"=<image URL>", "unknown path")
	}
	if method := req.RequestContext.HTTP.Method; method != http.MethodGet {
		out := errorOutcome(http.StatusMethodNotAllowed, "method "+method+" is not allowed on "+Route+": use GET", "method not allowed")
		out.allow = http.MethodGet
		return out
	}
	uri, given, err := imageURIParam(req)
	if err != nil {
		out := errorOutcome(http.StatusBadRequest, err.Error(), "bad request")
		out.imageURI = uri
		return out
	}

	var out outcome
	if h.labeler == nil {
		out = errorOutcome(http.StatusInternalServerError, "the proxy has no labeler URL configured", "no labeler url")
	} else {
		// The labeler logs the same trace id: crossfaas logs correlates
		// the two clouds' lines of one request by it. A caller's own
		// trace is continued.
		trace, id := traceparent.Continue(req.Headers[traceparent.Header])
		out = h.forward(ctx, uri, given, trace)
		out.traceID = id
	}
	out.imageURI = uri
	return out
}

// routePath is the request's path without the stage prefix API Gateway adds
// to rawPath for a named (non-$default) stage.
func routePath(req events.APIGatewayV2HTTPRequest) string {
	p := req.RawPath
	if stage := req.RequestContext.Stage; stage != "" && stage != "$default" {
		if rest, ok := strings.CutPrefix(p, "/"+stage); ok && strings.HasPrefix(rest, "/") {
			p = rest
		}
	}
	return p
}

// imageURIParam returns the caller's imageUri and whether one was given,
// checked with imageuri.Validate. The raw query string is authoritative:
// API Gateway joins repeated parameters with commas in
// QueryStringParameters, which would hide a repetition. QueryStringParameters
// is used only for hand-made events that carry no raw query string.
func imageURIParam(req events.APIGatewayV2HTTPRequest) (uri string, given bool, err error) {
	var values []string
	if req.RawQueryString != "" {
		q, err := url.ParseQuery(req.RawQueryString)
		if err != nil {
			return "", false, errors.New("the query string is malformed: " + queryErrorDetail(err))
		}
		values = q[QueryParam]
	} else if v, ok := req.QueryStringParameters[QueryParam]; ok {
		values = []string{v}
	}
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", true, fmt.Errorf("%s is given %d times: give it once", QueryParam, len(values))
	}
	uri = values[0]
	if err := imageuri.Validate(uri); err != nil {
		return uri, true, err
	}
	return uri, true, nil
}

// queryErrorDetail words a url.ParseQuery error without Go's prefixes.
func queryErrorDetail(err error) string {
	var escErr url.EscapeError
	if errors.As(err, &escErr) {
		return fmt.Sprintf("invalid percent-encoding %q", string(escErr))
	}
	return err.Error()
}

// errorOutcome is the proxy's own JSON error answer.
func errorOutcome(status int, message, reason string) outcome {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{message}) // cannot fail for a string field
	return outcome{status: status, body: body, contentType: "application/json", reason: reason}
}

// millis is d in milliseconds with microsecond precision, for logs.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// truncate shortens s to at most n bytes, cut at a rune boundary, so that
// whatever a caller sends stays a short line in the answer and the logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
