package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// Send sends body by SMS from the Twilio number from to the number to
// (E.164). An error wrapping ErrRejected means Twilio refused the message
// for good; its *client.TwilioRestError stays in the chain.
//
// twilio-go builds and authenticates the request, but it takes no context
// and its base URL is fixed; so each call gets a client whose transport
// carries ctx (bounded by SendTimeout) and, when the API URL is
// overridden, rewrites Twilio's host to it.
func (s *Sender) Send(ctx context.Context, from, to, body string) error {
	if from == "" || to == "" || body == "" {
		return errors.New("twilio: send: from, to and body are required")
	}
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel() // CreateMessage has read and closed the body by then
	c := &client.Client{
		Credentials: client.NewCredentials(s.sid, s.token),
		HTTPClient: &http.Client{
			Transport: &apiTransport{ctx: ctx, base: s.base, next: s.transport},
			// Like twilio-go's default client: the API doesn't redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(s.sid)
	rest := twiliogo.NewRestClientWithParams(twiliogo.ClientParams{Client: c})

	params := &openapi.CreateMessageParams{}
	params.SetFrom(from)
	params.SetTo(to)
	params.SetBody(body)
	// Twilio swaps look-alike Unicode (curly quotes, "…") for GSM-7
	// characters, so a reply doesn't fall back to 70-character UCS-2
	// segments for one typographic character.
	params.SetSmartEncoded(true)
	if _, err := rest.Api.CreateMessage(params); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		var apiErr *client.TwilioRestError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest {
			return fmt.Errorf("twilio: send to %s: %w: %w", to, ErrRejected, err)
		}
		return fmt.Errorf("twilio: send to %s: %w", to, err)
	}
	return nil
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
