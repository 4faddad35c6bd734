// Package gateway is a local Amazon API Gateway HTTP API: it turns HTTP
// requests into the payload format 2.0 events AWS sends to Lambda
// (events.APIGatewayV2HTTPRequest), invokes the route's function in-process
// and turns the function's response back into HTTP, with the same
// status codes AWS answers when something goes wrong (404 for no route, 413
// for oversized payloads, 500 for function errors, 503 for timeouts).
package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/internal/dev/devlog"
	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
)

// MaxRequestBody is the HTTP API's limit on a request's payload (10 MB).
const MaxRequestBody = 10 * 1024 * 1024

// DefaultIntegrationTimeout is the HTTP API's maximum integration timeout.
const DefaultIntegrationTimeout = 30 * time.Second

// Config configures a Gateway. The zero value is usable.
type Config struct {
	// Hosts are the names the API answers for, as the Host header carries
	// them ("127.0.0.1:8787", "localhost:8787"); case does not matter. A
	// request for any other host gets 403 {"message":"Forbidden"} and
	// reaches no function, as API Gateway answers a request for a domain it
	// does not serve; the event's requestContext.domainName is always one
	// of them. Empty means every host.
	Hosts []string
	// IntegrationTimeout is how long the gateway waits for a function
	// before answering 503; zero means DefaultIntegrationTimeout.
	IntegrationTimeout time.Duration
	// Now returns the time stamped on events; nil means time.Now.
	Now func() time.Time
}

// Gateway is an http.Handler serving the routes of one HTTP API, stage
// $default. Routes may be added until it serves its first request.
type Gateway struct {
	cfg    Config
	logger *slog.Logger
	apiID  string

	hosts map[string]bool // lower case; nil: every host

	mu     sync.RWMutex
	routes map[string]*lambdaemu.Function // by route key, "POST /sms"
}

// New returns a gateway without routes. logger receives one line per
// request.
func New(cfg Config, logger *slog.Logger) *Gateway {
	if cfg.IntegrationTimeout <= 0 {
		cfg.IntegrationTimeout = DefaultIntegrationTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gateway{
		cfg:    cfg,
		logger: logger,
		apiID:  randomAPIID(),
		routes: make(map[string]*lambdaemu.Function),
	}
	if len(cfg.Hosts) > 0 {
		g.hosts = make(map[string]bool, len(cfg.Hosts))
		for _, h := range cfg.Hosts {
			g.hosts[strings.ToLower(h)] = true
		}
	}
	return g
}

// Route sends requests matching routeKey ("METHOD /path", e.g. "GET
// /detect"; method ANY matches every method) to fn.
func (g *Gateway) Route(routeKey string, fn *lambdaemu.Function) error {
	method, path, ok := strings.Cut(routeKey, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t") {
		return fmt.Errorf("gateway route: route key %q is not \"METHOD /path\"", routeKey)
	}
	key := strings.ToUpper(method) + " " + path
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.routes[key]; dup {
		return fmt.Errorf("gateway route: %q is already routed", key)
	}
	g.routes[key] = fn
	return nil
}

func (g *Gateway) match(method, path string) (string, *lambdaemu.Function) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if fn, ok := g.routes[method+" "+path]; ok {
		return method + " " + path, fn
	}
	if fn, ok := g.routes["ANY "+path]; ok {
		return "ANY " + path, fn
	}
	return "", nil
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.cfg.Now()
	requestID := newRequestID()
	w.Header().Set("Apigw-Requestid", requestID)
	log := g.logger.With("request_id", requestID, "method", r.Method, "path", r.URL.EscapedPath())

	if g.hosts != nil && !g.hosts[strings.ToLower(r.Host)] {
		log.Warn("gateway: request for a host this API does not serve", "host", r.Host, "status", http.StatusForbidden)
		writeMessage(w, http.StatusForbidden, "Forbidden")
		return
	}
	routeKey, fn := g.match(r.Method, r.URL.EscapedPath())
	if fn == nil {
		log.Info("gateway: no route", "status", http.StatusNotFound)
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	log = log.With("route", routeKey, "function", fn.Name())

	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	if err != nil {
		log.Warn("gateway: reading request body", "err", err)
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxRequestBody {
		log.Info("gateway: request body too large", "status", http.StatusRequestEntityTooLarge)
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	if sid := messageSid(r.Header.Get("Content-Type"), body); sid != "" {
		log = log.With("sid", sid)
	}

	event := g.Event(r, routeKey, requestID, body, start)
	payload, err := json.Marshal(event)
	if err != nil {
		log.Error("gateway: encoding event", "err", err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.IntegrationTimeout)
	defer cancel()
	out, err := fn.Invoke(ctx, requestID, payload, lambdaemu.MaxSyncPayload)
	status := g.respond(ctx, w, out, err, log)
	// The end of the function's hop (see package devlog).
	log.Info("gateway: request", devlog.Hop(), "status", status, "duration_ms", g.cfg.Now().Sub(start).Milliseconds())
}

// respond writes the function's outcome and returns the status sent.
func (g *Gateway) respond(ctx context.Context, w http.ResponseWriter, out []byte, invokeErr error, log *slog.Logger) int {
	var fnErr *lambdaemu.Error
	switch {
	case errors.Is(invokeErr, lambdaemu.ErrPayloadTooLarge):
		log.Info("gateway: event exceeds the Lambda payload limit", "err", invokeErr)
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return http.StatusRequestEntityTooLarge
	case errors.As(invokeErr, &fnErr):
		log.Error("gateway: function error", "error_type", fnErr.Type, "error_message", fnErr.Message, "stack", fnErr.Stack)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return http.StatusInternalServerError
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		log.Error("gateway: integration timed out", "timeout", g.cfg.IntegrationTimeout.String())
		writeMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
		return http.StatusServiceUnavailable
	case invokeErr != nil:
		// The client went away; nobody reads the answer.
		log.Info("gateway: request abandoned", "err", invokeErr)
		return 499
	}

	resp, err := decodeResponse(out)
	if err != nil {
		log.Error("gateway: malformed Lambda response", "err", err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return http.StatusInternalServerError
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.WriteString(w, resp.Body); err != nil {
		log.Info("gateway: writing response", "err", err)
	}
	return resp.StatusCode
}

// decodeResponse reads a function's output the way the HTTP API reads
// payload format 2.0 responses: a JSON object with statusCode is the
// response; any other valid JSON is the body of a 200 application/json
// response. A base64 body is decoded, so Body holds the bytes to send.
func decodeResponse(out []byte) (events.APIGatewayV2HTTPResponse, error) {
	if !json.Valid(out) {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("response is not JSON: %.100q", out)
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) != nil || probe["statusCode"] == nil {
		return events.APIGatewayV2HTTPResponse{
			StatusCode: http.StatusOK,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       string(out),
		}, nil
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, fmt.Errorf("response does not match payload format 2.0: %w", err)
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return resp, fmt.Errorf("response has status code %d", resp.StatusCode)
	}
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return resp, fmt.Errorf("response body is marked base64 but does not decode: %w", err)
		}
		resp.Body = string(b)
	}
	return resp, nil
}

func writeMessage(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}
