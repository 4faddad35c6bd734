package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// SendTimeout bounds one call of the Messages API.
const SendTimeout = 10 * time.Second

// ErrRejected marks a message Twilio refused for good (HTTP 400: an invalid
// or unsubscribed number, a region not enabled, ...): sending it again
// can't succeed. Other errors may pass on a retry.
var ErrRejected = errors.New("twilio rejected the message")

// Sender sends SMS with twilio-go's Messages API client. It is safe for
// concurrent use.
type Sender struct {
	sid, token string
	base       *url.URL
	transport  http.RoundTripper
}

var _ sleuth.SMSSender = (*Sender)(nil)

// NewSender returns a Sender for the account of cfg.
func NewSender(cfg Config) (*Sender, error) {
	base, err := cfg.apiBase()
	if err != nil {
		return nil, err
	}
	return &Sender{sid: cfg.AccountSID, token: cfg.AuthToken, base: base, transport: cfg.transport()}, nil
}

// rest returns a twilio-go client whose requests carry ctx.
//
// twilio-go builds and authenticates the requests, but it takes no context
// and its base URL is fixed; so each call gets a client whose transport
// carries ctx and, when the API URL is overridden, rewrites Twilio's host
// to it. twilio-go never sends a request twice.
func (s *Sender) rest(ctx context.Context) *twiliogo.RestClient {
	c := &client.Client{
		Credentials: client.NewCredentials(s.sid, s.token),
		HTTPClient: &http.Client{
			Transport: &apiTransport{ctx: ctx, base: s.base, next: s.transport},
			// Like twilio-go's default client: the API doesn't redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(s.sid)
	return twiliogo.NewRestClientWithParams(twiliogo.ClientParams{Client: c})
}

// Send sends body by SMS from the Twilio number from to the number to
// (E.164) and returns the message's SID. An error wrapping ErrRejected
// means Twilio refused the message for good; its *client.TwilioRestError
// stays in the chain. Any other error leaves it unknown whether Twilio
// accepted the message: find out with Sent before sending again.
func (s *Sender) Send(ctx context.Context, from, to, body string) (string, error) {
	if from == "" || to == "" || body == "" {
		return "", errors.New("twilio: send: from, to and body are required")
	}
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel() // CreateMessage has read and closed the body by then
	rest := s.rest(ctx)

	params := &openapi.CreateMessageParams{}
	params.SetFrom(from)
	params.SetTo(to)
	params.SetBody(body)
	// Twilio swaps look-alike Unicode (curly quotes, "…") for GSM-7
	// characters, so a reply doesn't fall back to 70-character UCS-2
	// segments for one typographic character.
	params.SetSmartEncoded(true)
	msg, err := rest.Api.CreateMessage(params)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		var apiErr *client.TwilioRestError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest {
			return "", fmt.Errorf("twilio: send to %s: %w: %w", sleuth.MaskNumber(to), ErrRejected, err)
		}
		return "", fmt.Errorf("twilio: send to %s: %w", sleuth.MaskNumber(to), err)
	}
	if msg == nil || msg.Sid == nil || *msg.Sid == "" {
		return "", fmt.Errorf("twilio: send to %s: the response has no message SID", sleuth.MaskNumber(to))
	}
	return *msg.Sid, nil
}

// sentLimit bounds how many of the latest messages to a number Sent
// reads: a retry comes minutes after the attempt it reconciles, and no
// user gets hundreds of replies in between.
const sentLimit = 200

// Sent returns the SIDs of the messages from from to to whose body is
// body, as Twilio may have transformed it (smart encoding, the trial
// account's prefix: see sameBody), and that Twilio created at since or
// later (to the second, Twilio's precision), oldest first. It reads the Messages resource filtered by To
// and From, at most the latest sentLimit messages, within SendTimeout.
func (s *Sender) Sent(ctx context.Context, from, to, body string, since time.Time) ([]string, error) {
	if from == "" || to == "" {
		return nil, errors.New("twilio: sent: from and to are required")
	}
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	params := &openapi.ListMessageParams{}
	params.SetFrom(from)
	params.SetTo(to)
	params.SetPageSize(50)
	params.SetLimit(sentLimit)
	msgs, err := s.rest(ctx).Api.ListMessage(params)
	if err != nil {
		return nil, fmt.Errorf("twilio: list messages to %s: %w", sleuth.MaskNumber(to), err)
	}
	type sent struct {
		sid     string
		created time.Time
	}
	var found []sent
	since = since.Truncate(time.Second)
	for _, m := range msgs {
		if m.Sid == nil || m.Body == nil || !sameBody(*m.Body, body) || m.DateCreated == nil {
			continue
		}
		created, err := parseDate(*m.DateCreated)
		if err != nil {
			return nil, fmt.Errorf("twilio: list messages to %s: message %s: %w", sleuth.MaskNumber(to), *m.Sid, err)
		}
		if !created.Before(since) {
			found = append(found, sent{*m.Sid, created})
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].created.Before(found[j].created) })
	sids := make([]string, len(found))
	for i, f := range found {
		sids[i] = f.sid
	}
	return sids, nil
}

// parseDate parses Twilio's RFC 2822 dates ("Thu, 30 Jul 2015 20:12:31 +0000").
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		if t, err2 := time.Parse(time.RFC1123, s); err2 == nil {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("date %q: %w", s, err)
	}
	return t, nil
}

// apiTransport gives twilio-go's requests a context and, for an overridden
// API URL, its scheme, host and path prefix.
type apiTransport struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper
}

func (t *apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// twilio-go addresses api.twilio.com, or api.<edge>.<region>.twilio.com
	// when TWILIO_EDGE/TWILIO_REGION are set; anything else is a bug.
	host := strings.ToLower(req.URL.Hostname())
	if host != "twilio.com" && !strings.HasSuffix(host, ".twilio.com") {
		return nil, fmt.Errorf("twilio: refusing request to non-Twilio host %q", req.URL.Host)
	}
	out := req.Clone(t.ctx)
	if t.base.String() != DefaultAPIURL {
		out.URL.Scheme = t.base.Scheme
		out.URL.Host = t.base.Host
		out.URL.Path = t.base.Path + req.URL.Path
		out.URL.RawPath = ""
		out.Host = ""
	}
	return t.next.RoundTrip(out)
}
