// Package wikipedia implements sleuth.Biographies with Wikipedia's REST
// page-summary API: GET {base}/api/rest_v1/page/summary/{title}.
package wikipedia

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

const (
	// DefaultBaseURL is English Wikipedia.
	DefaultBaseURL = "https://en.wikipedia.org"
	// UserAgent follows Wikimedia's policy: a name, a version and a contact.
	UserAgent = "crossfaas-sleuth/1.0 (https://github.com/crossfaas/crossfaas)"
	// Timeout bounds one lookup: a biography is a nicety, the reply must not
	// wait long for it.
	Timeout = 3 * time.Second
	// MaxLength is the longest biography returned, in characters, so the
	// reply stays a few SMS segments long.
	MaxLength = 320
	// maxBody caps the summary response read; summaries are a few KiB.
	maxBody = 1 << 20
	// maxRedirects is how many redirects are followed (a title redirect,
	// perhaps a normalisation).
	maxRedirects = 5
)

// Client looks up biographies. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	client *http.Client
}

var _ sleuth.Biographies = (*Client)(nil)

// New returns a Client for the wiki at baseURL ("" means DefaultBaseURL),
// which must be https; plain http only to a loopback host (a fake, an
// offline mirror), so nothing on a network can alter the biographies.
// transport carries the requests; nil means http.DefaultTransport.
// Redirects are followed on the wiki's own host and scheme only.
func New(baseURL string, transport http.RoundTripper) (*Client, error) {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" || base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("wikipedia: base URL %q must be like %s", baseURL, DefaultBaseURL)
	}
	if base.Scheme != "https" && !(base.Scheme == "http" && isLoopback(base.Hostname())) {
		return nil, fmt.Errorf("wikipedia: base URL %q must use https (http only for loopback hosts)", baseURL)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &Client{
		base: base,
		client: &http.Client{
			Transport: transport,
			Timeout:   Timeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) > maxRedirects {
					return fmt.Errorf("more than %d redirects", maxRedirects)
				}
				if !strings.EqualFold(req.URL.Host, base.Host) || req.URL.Scheme != base.Scheme {
					return fmt.Errorf("redirect off the wiki to %s://%s", req.URL.Scheme, req.URL.Host)
				}
				return nil
			},
		},
	}, nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// summary is the part of the page summary used.
type summary struct {
	Type    string `json:"type"` // "standard", "disambiguation", "no-extract", "mainpage"
	Title   string `json:"title"`
	Extract string `json:"extract"`
}

// Biography returns the lead of the Wikipedia article about name ("Mel
// Gibson"), shortened to MaxLength characters at a sentence or word
// boundary. It returns sleuth.ErrNoBiography when there is no article, only
// a disambiguation page, or an article without text; other errors mean the
// wiki could not be reached or answered badly.
func (c *Client) Biography(ctx context.Context, name string) (string, error) {
	title := Title(name)
	if title == "" {
		return "", fmt.Errorf("wikipedia: empty name: %w", sleuth.ErrNoBiography)
	}
	u := *c.base
	u.Path = c.base.Path + "/api/rest_v1/page/summary/" + title
	u.RawPath = c.base.EscapedPath() + "/api/rest_v1/page/summary/" + url.PathEscape(title)
	// A GET is safe to send again: one more try after a failure that may
	// pass (a network error, a 5xx, a body cut short).
	s, status, err := c.summary(ctx, u.String())
	if err != nil && (status == 0 || status == http.StatusOK || status >= 500) && ctx.Err() == nil {
		s, status, err = c.summary(ctx, u.String())
	}
	switch {
	case status == http.StatusNotFound:
		return "", fmt.Errorf("wikipedia: %q: no article: %w", title, sleuth.ErrNoBiography)
	case err != nil:
		return "", fmt.Errorf("wikipedia: summary of %q: %w", title, err)
	}
	if s.Type == "disambiguation" {
		return "", fmt.Errorf("wikipedia: %q is a disambiguation page: %w", title, sleuth.ErrNoBiography)
	}
	extract := strings.Join(strings.Fields(s.Extract), " ")
	if extract == "" {
		return "", fmt.Errorf("wikipedia: %q has no extract: %w", title, sleuth.ErrNoBiography)
	}
	return Shorten(extract, MaxLength), nil
}

// summary gets and decodes one page summary; status is the HTTP status, 0
// when there was no response.
func (c *Client) summary(ctx context.Context, u string) (summary, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return summary{}, 0, err
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return summary{}, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return summary{}, resp.StatusCode, fmt.Errorf("status %d", resp.StatusCode)
	}
	var s summary
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&s); err != nil {
		return summary{}, resp.StatusCode, err
	}
	return s, resp.StatusCode, nil
}

// Title turns a display name into a page title: "mel gibson" -> "Mel_gibson"
// is what MediaWiki does, but people's articles are title-cased, so every
// word's first letter is upper-cased: "Mel_Gibson". Runs of spaces and
// underscores become one "_".
func Title(name string) string {
	words := strings.FieldsFunc(name, func(r rune) bool { return r == '_' || unicode.IsSpace(r) })
	for i, w := range words {
		r, size := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[size:]
	}
	return strings.Join(words, "_")
}

// Shorten returns s if it has at most max characters (runes). Otherwise it
// cuts at the end of the last whole sentence that fits, if that keeps at
// least half of max; else at the last word boundary, adding "…". The result
// never exceeds max characters.
func Shorten(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	head := string(runes[:max])
	// A sentence ends with . ! or ? followed by a space, but not after an
	// initial ("Mel C. Gibson").
	best := -1
	for i, r := range head {
		if r != '.' && r != '!' && r != '?' {
			continue
		}
		end := i + utf8.RuneLen(r)
		followedBySpace := end == len(head) && unicode.IsSpace(runes[max]) || end < len(head) && head[end] == ' '
		if followedBySpace && !afterInitial(head[:i]) {
			best = end
		}
	}
	if best >= 0 && utf8.RuneCountInString(head[:best]) >= max/2 {
		return head[:best]
	}
	head = string(runes[:max-1]) // room for the ellipsis
	if cut := strings.LastIndexByte(head, ' '); cut > 0 && !unicode.IsSpace(runes[max-1]) {
		head = head[:cut]
	}
	return strings.TrimRightFunc(head, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' }) + "…"
}

// afterInitial reports whether s ends with a one-letter word, like "Mel C".
func afterInitial(s string) bool {
	r, size := utf8.DecodeLastRuneInString(s)
	if !unicode.IsUpper(r) {
		return false
	}
	prev, _ := utf8.DecodeLastRuneInString(s[:len(s)-size])
	return len(s) == size || unicode.IsSpace(prev) || prev == '.'
}
