// Package twilio connects sleuth to Twilio: Sender sends SMS through the
// Messages API with twilio-go (sleuth.SMSSender), and Media downloads the
// image a user attached to an MMS (sleuth.Media), refusing anything that is
// not a JPEG or PNG of at most 5 MiB served by Twilio.
//
// Both reach https://api.twilio.com unless Config.APIURL (the
// SLEUTH_TWILIO_API_URL variable) points them at a fake for tests and
// `crossfaas dev`.
package twilio

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// DefaultAPIURL is Twilio's REST API.
const DefaultAPIURL = "https://api.twilio.com"

// userAgent identifies our requests to Twilio's media hosts. (twilio-go sets
// its own on API calls.)
const userAgent = "crossfaas-sleuth/1.0 (https://github.com/crossfaas/crossfaas)"

// Config is what both clients need.
type Config struct {
	// AccountSID and AuthToken authenticate to the API (HTTP basic auth).
	AccountSID string
	AuthToken  string
	// APIURL replaces DefaultAPIURL when not empty: a base URL such as
	// "http://127.0.0.1:4010". Plain http is accepted only for loopback
	// hosts, so a stray setting can't send credentials in clear over a
	// network.
	APIURL string
	// Transport carries the HTTP requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
}

// apiBase validates cfg and returns the API's base URL.
func (cfg Config) apiBase() (*url.URL, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" {
		return nil, errors.New("twilio: account SID and auth token are required")
	}
	raw := cfg.APIURL
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("twilio: API URL %q must be a base URL like %s", raw, DefaultAPIURL)
	}
	if !secureScheme(u) {
		return nil, fmt.Errorf("twilio: API URL %q must use https (http only for loopback hosts)", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func (cfg Config) transport() http.RoundTripper {
	if cfg.Transport != nil {
		return cfg.Transport
	}
	return http.DefaultTransport
}

// secureScheme reports whether u is https, or http to a loopback host.
func secureScheme(u *url.URL) bool {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return true
	case "http":
		return isLoopback(u.Hostname())
	}
	return false
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
