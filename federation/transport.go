package federation

import (
	"fmt"
	"io"
	"net/http"
)

// Transport is an http.RoundTripper that authenticates every request with
// an ID token from Source, as a caller of a private Cloud Run service must.
//
// When the receiver answers 401 (the token expired early, or was revoked),
// Transport drops the token, fetches a new one and sends the request once
// more, if its body can be replayed (no body, or GetBody set, as
// http.NewRequest sets it for in-memory bodies). A 403 is not retried: a
// new token of the same account would be refused again.
//
// A failed token fetch fails the request with an *Error, which errors.As
// finds through the *url.Error an http.Client returns. A request in plain
// http to a host that is not loopback fails without a token fetched or a
// byte sent.
type Transport struct {
	// Source provides the tokens. Required.
	Source *Source
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip sends req with an Authorization header, leaving req unchanged.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	// A bearer token is as good as a password to whoever sees it: it
	// never travels in clear over a network (a redirect followed by the
	// client included).
	if err := checkEndpoint(req.URL.String()); err != nil {
		closeBody(req)
		return nil, fmt.Errorf("federation: not sending an ID token: %w", err)
	}
	tok, err := t.Source.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	authed := req.Clone(req.Context())
	tok.SetAuthHeader(authed)
	resp, err := base.RoundTrip(authed)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable(req) {
		return resp, err
	}

	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	t.Source.Invalidate(tok)
	if tok, err = t.Source.Token(req.Context()); err != nil {
		return nil, err
	}
	retry := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	tok.SetAuthHeader(retry)
	return base.RoundTrip(retry)
}

// replayable reports whether req can be sent a second time.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// closeBody closes req's body, as a RoundTripper must even on failure.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
