// Package phone is the phone simulator of `crossfaas dev`: a web page where
// a developer texts the CelebritySleuth bot, and the slice of Twilio behind
// it. The simulator plays both ends of Twilio for one simulated phone:
//
//   - inbound: a message typed on the page (with an optional photo) becomes
//     the form webhook Twilio posts, signed with X-Twilio-Signature under
//     the local auth token, so the real signature check runs; the photo is
//     served at a Twilio-shaped media URL behind basic auth, like
//     api.twilio.com; the TwiML answer appears as the instant reply
//     (webhook.go);
//   - outbound: Send (a sleuth.SMSSender) and the Messages API endpoint
//     (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, for the real
//     twilio-go client) deliver replies to the page's thread (twilio.go).
//
// The page follows the thread over server-sent events (page.go). Each
// reply names the message it answers; replies that explain why a command
// could not be done are marked; messages that reached the webhook from
// outside the page (a developer's script) are shown as such; the thread
// can be cleared. This file holds the simulator and its thread.
package phone

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed web
var webFS embed.FS

// Defaults of the simulated numbers (555-01xx numbers are reserved for
// fiction).
const (
	DefaultUserNumber   = "+15555550100"
	DefaultTwilioNumber = "+15555550199"
)

// DefaultMaxUpload is the largest photo the page accepts, in bytes. It is
// above Twilio's 5 MB MMS limit on purpose: the handlers' own size check is
// what a developer wants to see answer.
const DefaultMaxUpload = 20 << 20

// webhookTimeout is how long Twilio waits for a webhook's answer.
const webhookTimeout = 15 * time.Second

// Config configures a Simulator.
type Config struct {
	// AccountSID and AuthToken are the simulated Twilio account's
	// credentials: webhooks are signed with AuthToken; media and the
	// Messages API want them as basic auth. Both are shown on the page.
	// Required.
	AccountSID string
	AuthToken  string
	// BaseURL is where the simulator is served, e.g.
	// "http://127.0.0.1:8788"; media URLs are built on it. Required.
	BaseURL string
	// WebhookURL is the messaging webhook of the Twilio number, where
	// inbound messages are posted. Required.
	WebhookURL string
	// UserNumber is the simulated phone's number and TwilioNumber the
	// number it texts; empty means DefaultUserNumber, DefaultTwilioNumber.
	UserNumber   string
	TwilioNumber string
	// MaxUpload limits photo uploads; zero means DefaultMaxUpload.
	MaxUpload int64
	// DeadLetters, if not nil, returns the dev bus's dead-letter list,
	// served as JSON at /_dev/dlq and shown on the page.
	DeadLetters func() any
	// Mode ("offline" or "cloud") is shown on the page.
	Mode string
	// HTTPClient posts the webhooks; nil means a client with Twilio's
	// 15-second timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Entry is one line of the thread the page shows.
type Entry struct {
	Seq  int       `json:"seq"`
	Time time.Time `json:"time"`
	// Kind is "sent" (a message to the bot: from the page, or from
	// outside it when External), "ack" (the instant reply: the TwiML
	// answer to a sent message), "received" (an SMS the bot sent the
	// phone) or "error" (Twilio could not reach the webhook, or it
	// refused the message).
	Kind       string `json:"kind"`
	From       string `json:"from"`
	To         string `json:"to"`
	Body       string `json:"body"`
	MessageSid string `json:"messageSid,omitempty"`
	// InReplyTo is the MessageSid of the sent message an ack, a reply or
	// an error answers, when known.
	InReplyTo string `json:"inReplyTo,omitempty"`
	// MediaURL is the Twilio media URL of a sent photo; MediaType its type.
	MediaURL  string `json:"mediaUrl,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	// PreviewURL is where the page loads the sent photo from (the media
	// URL wants the account's credentials).
	PreviewURL string `json:"previewUrl,omitempty"`
	// Status is the webhook's HTTP status, for acks and errors.
	Status int `json:"status,omitempty"`
	// Problem marks an ack or a reply that explains why the command could
	// not be done (a usage mistake, no face in the photo, a failure).
	Problem bool `json:"problem,omitempty"`
	// AwaitingReply marks an ack after which a reply will come: the
	// command was accepted and published.
	AwaitingReply bool `json:"awaitingReply,omitempty"`
	// External marks a sent message that reached the webhook from outside
	// the page, e.g. posted with curl.
	External bool `json:"external,omitempty"`
}

// Simulator is the phone simulator. It is an http.Handler; its methods are
// safe for concurrent use.
type Simulator struct {
	cfg    Config
	logger *slog.Logger
	mux    *http.ServeMux
	done   chan struct{}
	once   sync.Once

	mu        sync.Mutex
	entries   []Entry
	seq       int               // the last sequence number given
	clearedAt int               // entries up to this sequence number were cleared
	sent      map[string]bool   // MessageSids of the messages sent, cleared or not
	external  map[string]string // sender of each external message, by MessageSid
	expect    map[string]bool   // MessageSids whose command was published
	media     map[string]media
	notify    chan struct{} // closed and replaced on every change
}

// media is a photo the page sent.
type media struct {
	messageSid  string
	body        string // the text it came with
	contentType string
	data        []byte
	time        time.Time
}

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-f]{32}$`)
	e164              = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
)

// New returns a simulator with an empty thread.
func New(cfg Config, logger *slog.Logger) (*Simulator, error) {
	switch {
	case !accountSIDPattern.MatchString(cfg.AccountSID):
		return nil, fmt.Errorf("phone simulator: account SID %q is not AC followed by 32 hex digits", cfg.AccountSID)
	case cfg.AuthToken == "":
		return nil, errors.New("phone simulator: auth token is empty")
	case cfg.BaseURL == "":
		return nil, errors.New("phone simulator: base URL is empty")
	case cfg.WebhookURL == "":
		return nil, errors.New("phone simulator: webhook URL is empty")
	}
	if _, err := url.ParseRequestURI(cfg.WebhookURL); err != nil {
		return nil, fmt.Errorf("phone simulator: webhook URL: %w", err)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.UserNumber == "" {
		cfg.UserNumber = DefaultUserNumber
	}
	if cfg.TwilioNumber == "" {
		cfg.TwilioNumber = DefaultTwilioNumber
	}
	for _, n := range []string{cfg.UserNumber, cfg.TwilioNumber} {
		if !e164.MatchString(n) {
			return nil, fmt.Errorf("phone simulator: %q is not an E.164 phone number like +15555550100", n)
		}
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: webhookTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Simulator{
		cfg:      cfg,
		logger:   logger,
		done:     make(chan struct{}),
		sent:     make(map[string]bool),
		external: make(map[string]string),
		expect:   make(map[string]bool),
		media:    make(map[string]media),
		notify:   make(chan struct{}),
	}
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, fmt.Errorf("phone simulator: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/info", s.handleInfo)
	// Any web page the developer visits could post to the simulator, and
	// so text the bot (with --cloud: Rekognition calls and real SMS on
	// the developer's accounts) or clear the thread; only the simulator's
	// own page may.
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: only the phone simulator's page may send messages")
	}))
	mux.Handle("POST /api/messages", sameOrigin.Handler(http.HandlerFunc(s.handleSend)))
	mux.Handle("DELETE /api/thread", sameOrigin.Handler(http.HandlerFunc(s.handleClear)))
	mux.HandleFunc("GET /api/thread", s.handleThread)
	mux.HandleFunc("GET /api/events", s.handleEvents)
	mux.HandleFunc("GET /api/preview/{media}", s.handlePreview)
	mux.HandleFunc("GET /_dev/dlq", s.handleDeadLetters)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}", s.handleMedia)
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", s.handleCreateMessage)
	s.mux = mux
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close ends the page's event streams, so an http.Server serving the
// simulator can shut down. The simulator keeps answering other requests.
func (s *Simulator) Close() {
	s.once.Do(func() { close(s.done) })
}

// UserNumber returns the simulated phone's number.
func (s *Simulator) UserNumber() string { return s.cfg.UserNumber }

// TwilioNumber returns the number the simulated phone texts.
func (s *Simulator) TwilioNumber() string { return s.cfg.TwilioNumber }

// Thread returns the thread's entries with a sequence number above after
// (0 for all), oldest first.
func (s *Simulator) Thread(after int) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Seq > after })
	return slices.Clone(s.entries[i:])
}

// Changed returns a channel closed at the next change of the thread (an
// entry added, the thread cleared).
func (s *Simulator) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// changed wakes the event streams; s.mu must be held.
func (s *Simulator) changed() {
	close(s.notify)
	s.notify = make(chan struct{})
}

func (s *Simulator) add(e Entry) Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	e.Seq = s.seq
	e.Time = s.cfg.Now().UTC()
	if e.Kind == "sent" && e.MessageSid != "" {
		s.sent[e.MessageSid] = true
		if e.External {
			s.external[e.MessageSid] = e.From
		}
	}
	s.entries = append(s.entries, e)
	s.changed()
	return e
}

// Clear empties the thread. Sequence numbers go on from where they were,
// and the photos stay available to the collections panel.
func (s *Simulator) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = nil
	s.clearedAt = s.seq
	s.changed()
}

// cleared returns the sequence number up to which the thread was cleared.
func (s *Simulator) cleared() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clearedAt
}

// ExpectReply records that the command of the message sid was published:
// a reply will come. `crossfaas dev` calls it from the request function's
// publisher, so the page can show the message as waiting.
func (s *Simulator) ExpectReply(sid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expect[sid] = true
}

func (s *Simulator) expecting(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expect[sid]
}

// externalSender reports whether number sent the external message sid: a
// reply to it goes to that number, not to the simulated phone's.
func (s *Simulator) externalSender(sid, number string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, ok := s.external[sid]
	return ok && from == number
}

// Sent reports whether the simulator knows the message sid: the page sent
// it, or it was recorded as external.
func (s *Simulator) Sent(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[sid]
}

// SentPhoto is a photo texted from the page.
type SentPhoto struct {
	MessageSid  string
	Body        string // the text sent with it
	ContentType string
	PreviewURL  string // where the page loads it
	Time        time.Time
}

// Photos returns the photos texted from the page, oldest first, the
// cleared ones included.
func (s *Simulator) Photos() []SentPhoto {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SentPhoto
	for id, m := range s.media {
		out = append(out, SentPhoto{MessageSid: m.messageSid, Body: m.body, ContentType: m.contentType, PreviewURL: previewPath(id), Time: m.time})
	}
	slices.SortFunc(out, func(a, b SentPhoto) int { return a.Time.Compare(b.Time) })
	return out
}

func previewPath(mediaSid string) string { return "/api/preview/" + mediaSid }
