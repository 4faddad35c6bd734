package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	// DefaultRefreshBefore is how long before its expiry a token is
	// replaced. ID tokens live an hour; Google's library refreshes 3m45s
	// early, and a little more leaves room for clock skew at the receiver.
	DefaultRefreshBefore = 5 * time.Minute
	// DefaultExchangeTimeout bounds one refresh (subject token, exchange
	// and generateIdToken), whoever waits for it.
	DefaultExchangeTimeout = 20 * time.Second
	// minUsableLife is the least lifetime a token must have left to be
	// handed out while its replacement is being fetched.
	minUsableLife = 30 * time.Second
	// fallbackLifetime is assumed for a token whose expiry cannot be read,
	// as Google's library assumes for every generated ID token.
	fallbackLifetime = time.Hour
	// DefaultMinBackoff and DefaultMaxBackoff bound the pause after failed
	// exchanges (see Options.MinBackoff).
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// Options configure a Source.
type Options struct {
	// Config is the credential configuration; it must be valid (see
	// ParseCredentialConfig).
	Config CredentialConfig
	// Audience is the aud of the ID tokens: the URL of the service they
	// are for (for Cloud Run, the service's URL without query). Required.
	Audience string
	// Credentials returns the AWS credentials to sign with, at each
	// exchange. Nil means the Lambda environment's (CredentialsFromEnv).
	Credentials func(context.Context) (AWSCredentials, error)
	// Region is the AWS region of the regional STS endpoint the subject
	// token names. "" means AWS_REGION, then AWS_DEFAULT_REGION, read once.
	Region string
	// Client makes the requests to Google; nil means a client of its own.
	// Its CheckRedirect is replaced: redirects are refused.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RefreshBefore is how long before expiry a token is replaced; zero
	// means DefaultRefreshBefore.
	RefreshBefore time.Duration
	// ExchangeTimeout bounds one refresh; zero means DefaultExchangeTimeout.
	ExchangeTimeout time.Duration
	// MinBackoff and MaxBackoff pace exchanges after a failure: for
	// MinBackoff after a failed exchange no new one starts, and callers
	// without a usable token get that failure at once; each further
	// failure in a row doubles the pause, up to MaxBackoff. A success
	// ends it. Zero means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

// Source hands out ID tokens for one audience, fetching them lazily: the
// first Token call makes the exchange and later calls get the cached token.
// Once the token comes within RefreshBefore of its expiry, the next call
// starts a refresh in the background and still gets the cached token, as
// do the calls during the refresh: a slow or failing Google delays no
// request while a valid token is at hand. Only without a token that has 30
// seconds left do callers wait, for a refresh they all share. After a
// failed refresh, Google's endpoints are left alone for a pause that
// doubles with each failure in a row (Options.MinBackoff, MaxBackoff):
// meanwhile callers get the cached token if it is still usable, else the
// last failure at once; the first call after the pause tries again. A
// Source is safe for concurrent use.
type Source struct {
	cfg             CredentialConfig
	audience        string
	credentials     func(context.Context) (AWSCredentials, error)
	region          string
	client          *http.Client
	now             func() time.Time
	refreshBefore   time.Duration
	exchangeTimeout time.Duration
	backoff         backoff

	mu     sync.Mutex
	cached Token
	flight *flight // the refresh in progress, if any
	failed failure // the failed refreshes in a row, if any
}

// flight is one refresh that callers wait for together.
type flight struct {
	done chan struct{}
	tok  Token
	err  error
}

// NewSource returns a Source. It checks its options and makes no request.
func NewSource(opts Options) (*Source, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("new token source: %w", err)
	}
	if u, err := url.Parse(opts.Audience); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("new token source: audience %q is not the http(s) URL of a service", opts.Audience)
	}
	// The tokens go to the audience: never in clear over a network.
	if err := checkEndpoint(opts.Audience); err != nil {
		return nil, fmt.Errorf("new token source: audience: %w", err)
	}
	s := &Source{
		cfg:             opts.Config,
		audience:        opts.Audience,
		credentials:     opts.Credentials,
		region:          opts.Region,
		client:          opts.Client,
		now:             opts.Now,
		refreshBefore:   opts.RefreshBefore,
		exchangeTimeout: opts.ExchangeTimeout,
		backoff:         backoff{min: opts.MinBackoff, max: opts.MaxBackoff},
	}
	if s.credentials == nil {
		s.credentials = func(context.Context) (AWSCredentials, error) { return CredentialsFromEnv(os.Getenv) }
	}
	if s.region == "" {
		region, err := RegionFromEnv(os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("new token source: %w", err)
		}
		s.region = region
	} else if !validRegion(s.region) {
		return nil, fmt.Errorf("new token source: %q is not an AWS region", s.region)
	}
	// Google's token endpoints do not redirect; following one would send
	// the subject token, or the federated token, wherever it pointed.
	client := http.Client{}
	if s.client != nil {
		client = *s.client
	}
	client.CheckRedirect = refuseRedirect
	s.client = &client
	if s.now == nil {
		s.now = time.Now
	}
	if s.refreshBefore <= 0 {
		s.refreshBefore = DefaultRefreshBefore
	}
	if s.exchangeTimeout <= 0 {
		s.exchangeTimeout = DefaultExchangeTimeout
	}
	if s.backoff.min <= 0 {
		s.backoff.min = DefaultMinBackoff
	}
	if s.backoff.max < s.backoff.min {
		s.backoff.max = max(DefaultMaxBackoff, s.backoff.min)
	}
	return s, nil
}

// Audience returns the aud of the tokens s hands out.
func (s *Source) Audience() string { return s.audience }

// Token returns a valid ID token: the cached one while it has more than 30
// seconds to live (starting a background refresh once it is due), else a
// new one. It waits for an exchange at most until ctx ends; the exchange
// itself goes on (bounded by Options.ExchangeTimeout) for the callers after.
// A failed exchange is an *Error; during the pause after one (see Source)
// it is returned again, with Error.RetryAt set, and no request is made.
func (s *Source) Token(ctx context.Context) (Token, error) {
	s.mu.Lock()
	now := s.now()
	cached := s.cached
	if cached.valid() && now.Before(cached.expiry.Add(-s.refreshBefore)) {
		s.mu.Unlock()
		return cached, nil
	}
	f := s.flight
	if f == nil && s.failed.pausing(now) {
		last := s.failed.err
		s.mu.Unlock()
		if cached.valid() && now.Before(cached.expiry.Add(-minUsableLife)) {
			return cached, nil
		}
		return Token{}, last
	}
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.flight = f
		go s.refresh(context.WithoutCancel(ctx), f)
	}
	s.mu.Unlock()
	if cached.valid() && now.Before(cached.expiry.Add(-minUsableLife)) {
		return cached, nil // refreshed in the background
	}

	select {
	case <-f.done:
	case <-ctx.Done():
		return Token{}, &Error{Step: StepTokenExchange, Err: ctx.Err()}
	}
	if f.err != nil {
		return Token{}, f.err
	}
	return f.tok, nil
}

// Invalidate drops tok from the cache, if it is the cached token, so that
// the next Token call makes a new exchange: for a token the receiver
// refused (HTTP 401).
func (s *Source) Invalidate(tok Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached.value == tok.value {
		s.cached = Token{}
	}
}

// refresh makes one exchange for f and caches its token.
func (s *Source) refresh(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, s.exchangeTimeout)
	defer cancel()
	f.tok, f.err = s.fetch(ctx)

	s.mu.Lock()
	if f.err == nil {
		s.cached = f.tok
		s.failed = failure{}
	} else {
		s.failed.record(f.err, s.now(), s.backoff)
	}
	s.flight = nil
	s.mu.Unlock()
	close(f.done)
}

// fetch makes the three steps: subject token, token exchange,
// generateIdToken.
func (s *Source) fetch(ctx context.Context) (Token, error) {
	creds, err := s.credentials(ctx)
	if err != nil {
		return Token{}, &Error{Step: StepCredentials, Err: err}
	}
	subject, signature, err := signedSubject(ctx, s.cfg, creds, s.region, s.now())
	if err != nil {
		return Token{}, &Error{Step: StepSubjectToken, Err: err}
	}
	federated, err := exchangeToken(ctx, s.client, s.cfg, subject, signature, creds.SessionToken, creds.SecretAccessKey)
	if err != nil {
		return Token{}, err
	}
	raw, err := generateIDToken(ctx, s.client, s.cfg, federated, s.audience)
	if err != nil {
		return Token{}, err
	}
	return Token{value: raw, expiry: jwtExpiry(raw, s.now())}, nil
}

// jwtExpiry reads the exp claim of a JWT without checking its signature
// (the receiver does); a token without one is taken to live an hour.
func jwtExpiry(raw string, now time.Time) time.Time {
	parts := strings.Split(raw, ".")
	if len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var claims struct {
				Exp int64 `json:"exp"`
			}
			if json.Unmarshal(payload, &claims) == nil && claims.Exp > 0 {
				return time.Unix(claims.Exp, 0)
			}
		}
	}
	return now.Add(fallbackLifetime)
}

// Token is a Google-signed ID token. It never prints: its String, Format,
// MarshalJSON and LogValue all give "[redacted]". SetAuthHeader is the only
// way to use its value.
type Token struct {
	value  string
	expiry time.Time
}

// redacted is what a Token prints as.
const redacted = "[redacted]"

func (t Token) valid() bool { return t.value != "" }

// Expiry returns when the token expires.
func (t Token) Expiry() time.Time { return t.expiry }

// SetAuthHeader sets r's Authorization header to "Bearer <token>".
func (t Token) SetAuthHeader(r *http.Request) {
	r.Header.Set("Authorization", "Bearer "+t.value)
}

// String returns "[redacted]".
func (t Token) String() string { return redacted }

// GoString returns "[redacted]".
func (t Token) GoString() string { return redacted }

// Format prints "[redacted]" for every verb.
func (t Token) Format(f fmt.State, _ rune) { f.Write([]byte(redacted)) }

// MarshalJSON returns the JSON string "[redacted]".
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// LogValue returns "[redacted]".
func (t Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// IsTimeout reports whether err is a token fetch that ran out of time.
func IsTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded)
}

// refuseRedirect is the token client's CheckRedirect.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("refused a redirect to %s: token endpoints do not redirect", req.URL.Redacted())
}
