// Calling the labeler: the HTTP client, the call with its deadline, and
// what the labeler's answer (or failure) becomes.

package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/functions/labeler/traceparent"
)

// NewClient returns the HTTP client for the labeler, meant to be built once
// per execution environment and reused by every invocation so that warm
// invocations skip the TCP and TLS handshakes. Redirects are not followed: a
// labeler never redirects, and a 3xx reply is relayed as a 502.
//
// An idle connection can die while Lambda freezes the environment; Go's
// transport retries a GET on a reused connection that fails before any
// response byte, so a dead connection costs one reconnect, not an error.
func NewClient() *http.Client {
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2: true,
		// A Lambda environment runs one invocation at a time, so a few idle
		// connections to the one upstream host are plenty.
		MaxIdleConns:        8,
		MaxIdleConnsPerHost: 8,
		// Shorter than the idle timeouts of Google's front end, so the pool
		// rarely holds a connection the server already closed.
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// forward calls the labeler, with trace as its traceparent header, and
// turns its reply, or its failure, into the proxy's answer.
func (h *Handler) forward(ctx context.Context, uri string, given bool, trace string) outcome {
	budget := h.maxUpstream
	if deadline, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(deadline)-h.margin)
	}
	if budget <= 0 {
		return errorOutcome(http.StatusGatewayTimeout, "no time left to call the labeler", "deadline too close")
	}
	callCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	target := *h.labeler
	q := target.Query()
	if given {
		q.Set(QueryParam, uri)
	}
	target.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(callCtx, http.MethodGet, target.String(), nil)
	if err != nil {
		// Cannot happen for a URL that passed ParseLabelerURL.
		return errorOutcome(http.StatusInternalServerError, "the proxy is misconfigured", "build upstream request: "+err.Error())
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "crossfaas-proxy")
	req.Header.Set(traceparent.Header, trace)

	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		var fedErr *federation.Error
		if errors.As(err, &fedErr) {
			return identityFailure(callCtx, fedErr)
		}
		out := upstreamFailure(callCtx, err)
		out.upstreamLatency = time.Since(start)
		return out
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxUpstreamBody+1))
	latency := time.Since(start)
	if err != nil {
		out := upstreamFailure(callCtx, err)
		out.upstreamStatus, out.upstreamLatency = resp.StatusCode, latency
		return out
	}
	out := relay(resp, body)
	out.upstreamStatus, out.upstreamLatency = resp.StatusCode, latency
	return out
}

// upstreamFailure words a failed labeler call: 504 when the call ran out of
// time, 502 otherwise.
func upstreamFailure(callCtx context.Context, err error) outcome {
	var netErr net.Error
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()) {
		return errorOutcome(http.StatusGatewayTimeout, "the labeler did not answer in time", "upstream timeout: "+err.Error())
	}
	return errorOutcome(http.StatusBadGateway, "the labeler could not be reached", "upstream unreachable: "+err.Error())
}

// relay turns the labeler's complete reply into the proxy's answer: JSON
// passes through, anything else becomes a JSON error (see the package doc).
func relay(resp *http.Response, body []byte) outcome {
	if len(body) > MaxUpstreamBody {
		return errorOutcome(http.StatusBadGateway,
			fmt.Sprintf("the labeler's reply is larger than %d bytes", MaxUpstreamBody), "upstream body too large")
	}
	contentType := resp.Header.Get("Content-Type")
	if isJSONMediaType(contentType) && json.Valid(body) {
		if contentType == "" {
			contentType = "application/json"
		}
		return outcome{status: resp.StatusCode, body: body, contentType: contentType, retryAfter: resp.Header.Get("Retry-After")}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		out := errorOutcome(http.StatusTooManyRequests, "the labeler is overloaded: retry later", "upstream rate limited")
		out.retryAfter = resp.Header.Get("Retry-After")
		return out
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// Google's front end refused the proxy's identity, not the image.
		return errorOutcome(http.StatusBadGateway,
			fmt.Sprintf("the labeler refused the proxy's identity (HTTP %d): its invoker binding or the proxy's credentials are wrong, or IAM is still propagating after a deployment", resp.StatusCode),
			"upstream refused identity")
	}
	what := "a reply that is not JSON"
	switch {
	case len(body) == 0:
		what = "an empty body"
	case isJSONMediaType(contentType):
		what = "malformed JSON"
	}
	return errorOutcome(http.StatusBadGateway,
		fmt.Sprintf("the labeler answered HTTP %d with %s", resp.StatusCode, what), "upstream not json")
}

// isJSONMediaType reports whether contentType is JSON (application/json or
// a +json type) or absent.
func isJSONMediaType(contentType string) bool {
	if contentType == "" {
		return true
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}
