package twilio

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// MaxMediaBytes is the largest image Media accepts: 5 MiB, which is also
// what Rekognition takes as raw image bytes.
const MaxMediaBytes = 5 << 20

// FetchTimeout bounds one Fetch, redirects included.
const FetchTimeout = 15 * time.Second

// maxRedirects is how many redirects a Fetch follows. Twilio answers a media
// URL with one redirect to its CDN.
const maxRedirects = 3

// DefaultMediaHosts are where a Twilio media URL may redirect to. Twilio
// answers the API's media URL with a redirect to where the bytes are: a
// short-lived URL on mms.twiliocdn.com for accounts that enforce HTTP auth
// on media, otherwise Twilio's media bucket on S3
// (https://s3-external-1.amazonaws.com/media.twiliocdn.com/...), allowed
// under that path only: the rest of the host is anyone's bucket.
var DefaultMediaHosts = []string{"api.twilio.com", "*.twiliocdn.com", "s3-external-1.amazonaws.com/media.twiliocdn.com/"}

// imageTypes are the media types accepted, by their canonical name.
var imageTypes = map[string]string{
	"image/jpeg": "image/jpeg",
	"image/jpg":  "image/jpeg", // not registered, but some phones send it
	"image/png":  "image/png",
}

// Media downloads MMS media from Twilio (sleuth.Media). Media URLs must be
// the account's media files on the API host (see isMedia); redirects are
// followed to the allowed media hosts only. Credentials are sent only to
// the account's media URLs, never to the hosts they redirect to. It is
// safe for concurrent use.
type Media struct {
	sid, token string
	api        *url.URL
	hosts      []hostPattern
	client     *http.Client
}

var _ sleuth.Media = (*Media)(nil)

// NewMedia returns a Media for the account of cfg that fetches media URLs on
// the API host of cfg only and follows redirects to hosts only (nil means
// DefaultMediaHosts; see ParseHosts for the syntax). The API host is
// always allowed.
func NewMedia(cfg Config, hosts []string) (*Media, error) {
	api, err := cfg.apiBase()
	if err != nil {
		return nil, err
	}
	if hosts == nil {
		hosts = DefaultMediaHosts
	}
	patterns := []hostPattern{{host: strings.ToLower(api.Hostname()), port: api.Port()}}
	for _, h := range hosts {
		p, err := parseHost(h)
		if err != nil {
			return nil, err
		}
		patterns = append(patterns, p)
	}
	return &Media{
		sid: cfg.AccountSID, token: cfg.AuthToken, api: api, hosts: patterns,
		client: &http.Client{
			Transport: cfg.transport(),
			// Fetch follows redirects itself, checking each target and
			// deciding per hop whether to send credentials.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// ParseHosts parses a comma-separated list of hosts (the
// SLEUTH_TWILIO_MEDIA_HOSTS variable): "api.twilio.com", "*.twiliocdn.com"
// for any subdomain, or "127.0.0.1:4010" for one port; a host may end with
// a path prefix, "s3-external-1.amazonaws.com/media.twiliocdn.com/", to
// allow only URLs under that path. A host without a port matches the
// scheme's default port only. Empty entries are skipped; an empty list
// returns nil.
func ParseHosts(list string) ([]string, error) {
	var hosts []string
	for _, h := range strings.Split(list, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, err := parseHost(h); err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// hostPattern is one allowed host.
type hostPattern struct {
	host     string // lower case; for a wildcard, the parent domain
	port     string // "" for the scheme's default port
	wildcard bool   // matches subdomains of host, not host itself
	// pathPrefix, when not empty, is the clean path, ending in "/", that
	// URLs must be under.
	pathPrefix string
}

func parseHost(s string) (hostPattern, error) {
	bad := func() (hostPattern, error) {
		return hostPattern{}, fmt.Errorf("twilio: media host %q: want a host name like api.twilio.com or *.twiliocdn.com, optionally with :port and a /path prefix", s)
	}
	var p hostPattern
	rest := strings.TrimSpace(s)
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest, p.pathPrefix = rest[:i], strings.TrimSuffix(rest[i:], "/")+"/"
		if p.pathPrefix == "/" || path.Clean(p.pathPrefix)+"/" != p.pathPrefix || strings.ContainsAny(p.pathPrefix, "@?#*%\\") {
			return bad()
		}
	}
	rest = strings.ToLower(rest)
	if after, ok := strings.CutPrefix(rest, "*."); ok {
		p.wildcard, rest = true, after
	}
	if strings.ContainsAny(rest, "/@?#*") || rest == "" {
		return bad()
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		host, port = rest, ""
	}
	if host == "" || strings.ContainsAny(host, ":") && net.ParseIP(host) == nil {
		return bad()
	}
	p.host, p.port = host, port
	return p, nil
}

// allowed reports whether media may be fetched from u.
func (m *Media) allowed(u *url.URL) bool {
	if u.User != nil || !secureScheme(u) {
		return false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == defaultPort(u.Scheme) {
		port = ""
	}
	for _, p := range m.hosts {
		if p.port != port && !(p.port == defaultPort(u.Scheme) && port == "") {
			continue
		}
		if !(p.wildcard && strings.HasSuffix(host, "."+p.host) || !p.wildcard && host == p.host) {
			continue
		}
		// A dot segment could leave the prefix once the server resolves it.
		if p.pathPrefix == "" || strings.HasPrefix(u.Path, p.pathPrefix) && strings.HasPrefix(path.Clean(u.Path), p.pathPrefix) {
			return true
		}
	}
	return false
}

// isMedia reports whether u is the URL of a media file of this account's
// messages on the API host, the only URLs given the account's
// credentials:
//
//	<API URL>/2010-04-01/Accounts/<this account's SID>/Messages/<SM or MM><32 hex>/Media/ME<32 hex>
//
// A message's SID starts with SM or MM (Twilio gives MM to some messages
// with media, SM to others); a media file's always with ME.
//
// with no query, fragment, user info or percent-encoding in the path (an
// escaped "/" or dot segment could lead the server elsewhere than the path
// checked here).
func (m *Media) isMedia(u *url.URL) bool {
	if !strings.EqualFold(u.Scheme, m.api.Scheme) || !strings.EqualFold(u.Hostname(), m.api.Hostname()) ||
		portOrDefault(u) != portOrDefault(m.api) || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		u.Opaque != "" || u.RawPath != "" || strings.ContainsAny(u.EscapedPath(), "%") {
		return false
	}
	rest, ok := strings.CutPrefix(u.Path, m.api.Path+"/2010-04-01/Accounts/"+m.sid+"/Messages/")
	if !ok {
		return false
	}
	message, media, ok := strings.Cut(rest, "/Media/")
	return ok && (isSID(message, "SM") || isSID(message, "MM")) && isSID(media, "ME")
}

// isSID reports whether s is a Twilio SID of the kind prefix: the prefix
// and 32 hexadecimal digits.
func isSID(s, prefix string) bool {
	hexDigits, ok := strings.CutPrefix(s, prefix)
	if !ok || len(hexDigits) != 32 {
		return false
	}
	for i := 0; i < len(hexDigits); i++ {
		switch c := hexDigits[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

func portOrDefault(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return defaultPort(u.Scheme)
}

// canonicalType returns the accepted image type contentType names, or "".
func canonicalType(contentType string) string {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return imageTypes[mediaType]
}

// Fetch downloads the image at mediaURL, which Twilio reported with
// contentType. It refuses, before any request, a contentType other than
// JPEG or PNG (sleuth.ErrMediaType) and a URL that is not a media file of
// this account's messages on the API host (sleuth.ErrMediaHost; see
// isMedia); then a redirect off the allowed hosts (ErrMediaHost), a final
// answer with a client error status, 404 for media that no longer exists
// included (sleuth.ErrMediaUnavailable: asking again gets the same
// answer), a response declared or sniffed as anything but JPEG or PNG
// (ErrMediaType) and one over MaxMediaBytes (sleuth.ErrMediaTooLarge).
// Other errors (network, Twilio's 5xx, 408 and 429) are failures, worth
// retrying.
func (m *Media) Fetch(ctx context.Context, mediaURL, contentType string) ([]byte, error) {
	if canonicalType(contentType) == "" {
		return nil, fmt.Errorf("twilio media: declared type %q: %w", contentType, sleuth.ErrMediaType)
	}
	u, err := url.Parse(mediaURL)
	if err != nil || !m.isMedia(u) {
		return nil, fmt.Errorf("twilio media: %q: %w", redact(mediaURL), sleuth.ErrMediaHost)
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	for hop := 0; ; hop++ {
		resp, err := m.get(ctx, u)
		if err != nil {
			return nil, err
		}
		if !isRedirect(resp.StatusCode) {
			return m.read(resp, u)
		}
		resp.Body.Close()
		if hop == maxRedirects {
			return nil, fmt.Errorf("twilio media: %s: more than %d redirects", short(u), maxRedirects)
		}
		next, err := u.Parse(resp.Header.Get("Location"))
		if err != nil || resp.Header.Get("Location") == "" {
			return nil, fmt.Errorf("twilio media: %s: status %d with a bad Location", short(u), resp.StatusCode)
		}
		if !m.allowed(next) {
			return nil, fmt.Errorf("twilio media: redirect from %s to host %q: %w", short(u), next.Host, sleuth.ErrMediaHost)
		}
		u = next
	}
}

// get sends one GET, with the account's credentials only to the account's
// media URLs on the API host.
func (m *Media) get(ctx context.Context, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("twilio media: %w", err)
	}
	req.Header.Set("Accept", "image/jpeg, image/png")
	req.Header.Set("User-Agent", userAgent)
	if m.isMedia(u) {
		req.SetBasicAuth(m.sid, m.token)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("twilio media: get %s: %w", short(u), err)
	}
	return resp, nil
}

// read checks and reads a final response.
func (m *Media) read(resp *http.Response, u *url.URL) ([]byte, error) {
	defer resp.Body.Close()
	if permanent(resp.StatusCode) {
		return nil, fmt.Errorf("twilio media: get %s: status %d: %w", short(u), resp.StatusCode, sleuth.ErrMediaUnavailable)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("twilio media: get %s: status %d", short(u), resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); canonicalType(got) == "" {
		return nil, fmt.Errorf("twilio media: %s served %q: %w", short(u), got, sleuth.ErrMediaType)
	}
	if resp.ContentLength > MaxMediaBytes {
		return nil, fmt.Errorf("twilio media: %s is %d bytes: %w", short(u), resp.ContentLength, sleuth.ErrMediaTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxMediaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("twilio media: read %s: %w", short(u), err)
	}
	if len(body) > MaxMediaBytes {
		return nil, fmt.Errorf("twilio media: %s is over %d bytes: %w", short(u), MaxMediaBytes, sleuth.ErrMediaTooLarge)
	}
	// The declared types can lie; the bytes decide.
	if sniffed := http.DetectContentType(body); canonicalType(sniffed) == "" {
		return nil, fmt.Errorf("twilio media: %s holds %s: %w", short(u), sniffed, sleuth.ErrMediaType)
	}
	return body, nil
}

// permanent reports whether a status is a client error that the same
// request would get again: every 4xx but 408 Request Timeout and 429 Too
// Many Requests.
func permanent(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// short is redact for a parsed URL.
func short(u *url.URL) string { return redact(u.String()) }

// redact shortens a URL the user may have supplied before it goes in an
// error, dropping its query (signatures, tokens).
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		u.RawQuery, u.Fragment = "", ""
		raw = u.Redacted()
	}
	if len(raw) > 200 {
		raw = raw[:200] + "..."
	}
	return raw
}
