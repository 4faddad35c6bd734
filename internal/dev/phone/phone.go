// Package phone is the phone simulator of `crossfaas dev`: a web page where
// a developer texts the CelebritySleuth bot, and the slice of Twilio behind
// it. The simulator plays both ends of Twilio for one simulated phone:
//
//   - inbound: a message typed on the page (with an optional photo) becomes
//     the form webhook Twilio posts, signed with X-Twilio-Signature under
//     the local auth token, so the real signature check runs; the photo is
//     served at a Twilio-shaped media URL behind basic auth, like
//     api.twilio.com; the TwiML answer appears as the ack SMS;
//   - outbound: Send (a sleuth.SMSSender) and the Messages API endpoint
//     (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, for the real
//     twilio-go client) deliver replies to the page's thread.
//
// The page follows the thread over server-sent events and shows the
// dead-letter list the dev bus keeps.
package phone

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/trace"
	"github.com/crossfaas/crossfaas/internal/smswebhook"
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
	// Messages API want them as basic auth. Required.
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
	// Kind is "sent" (the phone texted the bot), "ack" (the TwiML answer to
	// a sent message), "received" (an SMS the bot sent the phone) or
	// "error" (Twilio could not reach the webhook).
	Kind       string `json:"kind"`
	From       string `json:"from"`
	To         string `json:"to"`
	Body       string `json:"body"`
	MessageSid string `json:"messageSid,omitempty"`
	// InReplyTo is the MessageSid of the sent message an ack or a reply
	// answers, when known.
	InReplyTo string `json:"inReplyTo,omitempty"`
	// MediaURL is the Twilio media URL of a sent photo; MediaType its type.
	MediaURL  string `json:"mediaUrl,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	// PreviewURL is where the page loads the sent photo from (the media
	// URL wants the account's credentials).
	PreviewURL string `json:"previewUrl,omitempty"`
	// Status is the webhook's HTTP status, for acks and errors.
	Status int `json:"status,omitempty"`
}

// Simulator is the phone simulator. It is an http.Handler; its methods are
// safe for concurrent use.
type Simulator struct {
	cfg    Config
	logger *slog.Logger
	mux    *http.ServeMux
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	entries []Entry
	media   map[string]media // by MediaSid
	notify  chan struct{}    // closed and replaced on every new entry
}

type media struct {
	messageSid  string
	contentType string
	data        []byte
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
		cfg:    cfg,
		logger: logger,
		done:   make(chan struct{}),
		media:  make(map[string]media),
		notify: make(chan struct{}),
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
	// the developer's accounts); only the simulator's own page may.
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: only the phone simulator's page may send messages")
	}))
	mux.Handle("POST /api/messages", sameOrigin.Handler(http.HandlerFunc(s.handleSend)))
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

// Changed returns a channel closed at the next new entry.
func (s *Simulator) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

func (s *Simulator) add(e Entry) Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Seq = len(s.entries) + 1
	e.Time = s.cfg.Now().UTC()
	s.entries = append(s.entries, e)
	close(s.notify)
	s.notify = make(chan struct{})
	return e
}

// Photo is an image attached to a message.
type Photo struct {
	ContentType string // as the phone reports it; sniffed when empty
	Data        []byte
}

// Result is the outcome of a sent message.
type Result struct {
	MessageSid string `json:"messageSid"`
	// Status is the webhook's HTTP status (0 when it could not be reached).
	Status int `json:"status"`
	// Ack is the text of the TwiML <Message> answered, if any.
	Ack string `json:"ack"`
	// Error explains a failed webhook (Twilio's error 11200).
	Error string `json:"error,omitempty"`
}

// SendMessage texts body, with photo if not nil, from the simulated phone
// to the Twilio number: it posts the signed webhook Twilio would and
// records the message and its TwiML answer in the thread.
func (s *Simulator) SendMessage(ctx context.Context, body string, photo *Photo) (Result, error) {
	// Twilio's ids of messages with media start with MM, of plain SMS
	// with SM.
	messageSid := smswebhook.NewSid("SM")
	if photo != nil {
		messageSid = smswebhook.NewSid("MM")
	}
	log := s.logger.With("sid", messageSid)
	params := s.webhookParams(messageSid, body)
	sent := Entry{Kind: "sent", From: s.cfg.UserNumber, To: s.cfg.TwilioNumber, Body: body, MessageSid: messageSid}
	if photo != nil {
		contentType := photo.ContentType
		if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt == "application/octet-stream" {
			contentType = http.DetectContentType(photo.Data)
		}
		contentType, _, _ = strings.Cut(contentType, ";")
		mediaSid := smswebhook.NewSid("ME")
		s.mu.Lock()
		s.media[mediaSid] = media{messageSid: messageSid, contentType: contentType, data: photo.Data}
		s.mu.Unlock()
		mediaURL := fmt.Sprintf("%s/2010-04-01/Accounts/%s/Messages/%s/Media/%s", s.cfg.BaseURL, s.cfg.AccountSID, messageSid, mediaSid)
		params.Set("NumMedia", "1")
		params.Set("MediaContentType0", contentType)
		params.Set("MediaUrl0", mediaURL)
		sent.MediaURL, sent.MediaType, sent.PreviewURL = mediaURL, contentType, "/api/preview/"+mediaSid
		log = log.With("media_type", contentType, "media_bytes", len(photo.Data))
	}
	s.add(sent)
	log.Info("phone: texting the bot", "body", body)

	res := Result{MessageSid: messageSid}
	status, answer, err := smswebhook.Post(ctx, s.cfg.HTTPClient, s.cfg.WebhookURL, s.cfg.AuthToken, params)
	res.Status = status
	switch {
	case err != nil:
		res.Error = fmt.Sprintf("Twilio error 11200: the webhook %s could not be reached: %v", s.cfg.WebhookURL, err)
	case status < 200 || status > 299:
		res.Error = fmt.Sprintf("Twilio error 11200: the webhook %s answered HTTP %d", s.cfg.WebhookURL, status)
		if len(answer) > 0 {
			res.Error += ": " + clip(string(answer), 200)
		}
	default:
		ack, err := smswebhook.Messages(answer)
		if err != nil {
			res.Error = "Twilio error 12100: the webhook's answer is not valid TwiML: " + err.Error()
			break
		}
		res.Ack = strings.Join(ack, "\n")
	}
	if res.Error != "" {
		log.Warn("phone: webhook failed", "status", status, "err", res.Error)
		s.add(Entry{Kind: "error", Body: res.Error, InReplyTo: messageSid, Status: status})
		return res, nil
	}
	log.Info("phone: webhook answered", "status", status, "ack", res.Ack)
	if res.Ack != "" {
		// Twilio sends the TwiML <Message> back as an SMS.
		s.add(Entry{Kind: "ack", From: s.cfg.TwilioNumber, To: s.cfg.UserNumber, Body: res.Ack, InReplyTo: messageSid, Status: status})
	}
	return res, nil
}

// webhookParams returns the form Twilio posts for an inbound SMS.
func (s *Simulator) webhookParams(messageSid, body string) url.Values {
	return smswebhook.Params(smswebhook.Message{
		AccountSID: s.cfg.AccountSID,
		MessageSid: messageSid,
		From:       s.cfg.UserNumber,
		To:         s.cfg.TwilioNumber,
		Body:       body,
	})
}

// Send delivers an SMS from the bot to the simulated phone's thread. It
// implements sleuth.SMSSender; the MessageSid the context carries (see
// package trace) links the reply to the message it answers.
func (s *Simulator) Send(ctx context.Context, from, to, body string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("phone send: %w", err)
	}
	if to == "" || body == "" {
		return fmt.Errorf("phone send: to %q and body %q must not be empty", to, body)
	}
	s.receive(trace.MessageSid(ctx), from, to, body)
	return nil
}

func (s *Simulator) receive(inReplyTo, from, to, body string) Entry {
	e := s.add(Entry{Kind: "received", From: from, To: to, Body: body, MessageSid: smswebhook.NewSid("SM"), InReplyTo: inReplyTo})
	log := s.logger.With("sid", inReplyTo, "sms_sid", e.MessageSid, "from", from, "to", to)
	if to != s.cfg.UserNumber {
		log.Warn("phone: SMS to a number that is not the simulated phone", "body", body)
	} else {
		log.Info("phone: SMS received", "body", body)
	}
	return e
}

func (s *Simulator) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"userNumber":   s.cfg.UserNumber,
		"twilioNumber": s.cfg.TwilioNumber,
		"webhookUrl":   s.cfg.WebhookURL,
		"accountSid":   s.cfg.AccountSID,
		"mode":         s.cfg.Mode,
		"maxUpload":    s.cfg.MaxUpload,
	})
}

// handleSend is the page's "send" button: a multipart form with "body" and
// an optional "media" file.
func (s *Simulator) handleSend(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the photo is larger than the simulator's %d MiB limit", s.cfg.MaxUpload>>20))
			return
		}
		writeError(w, http.StatusBadRequest, "send a multipart form with a body field and an optional media file: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll()
	body := r.FormValue("body")
	var photo *Photo
	if file, header, err := r.FormFile("media"); err == nil {
		defer file.Close()
		data, err := io.ReadAll(file)
		if err != nil {
			writeError(w, http.StatusBadRequest, "reading the photo: "+err.Error())
			return
		}
		if len(data) > 0 {
			photo = &Photo{ContentType: header.Header.Get("Content-Type"), Data: data}
		}
	} else if !errors.Is(err, http.ErrMissingFile) {
		writeError(w, http.StatusBadRequest, "reading the photo: "+err.Error())
		return
	}
	if strings.TrimSpace(body) == "" && photo == nil {
		writeError(w, http.StatusBadRequest, "type a message or attach a photo")
		return
	}
	res, err := s.SendMessage(r.Context(), body, photo)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Simulator) handleThread(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.Atoi(r.URL.Query().Get("after"))
	writeJSON(w, http.StatusOK, s.Thread(after))
}

// handleEvents streams the thread as server-sent events, one "entry"
// event per entry, resuming after Last-Event-ID.
func (s *Simulator) handleEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	after, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	if q := r.URL.Query().Get("after"); q != "" {
		after, _ = strconv.Atoi(q)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	flusher.Flush()

	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		changed := s.Changed()
		for _, e := range s.Thread(after) {
			data, _ := json.Marshal(e)
			fmt.Fprintf(w, "id: %d\nevent: entry\ndata: %s\n\n", e.Seq, data)
			after = e.Seq
		}
		flusher.Flush()
		select {
		case <-changed:
		case <-heartbeat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

func (s *Simulator) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	var letters any = []any{}
	if s.cfg.DeadLetters != nil {
		letters = s.cfg.DeadLetters()
	}
	writeJSON(w, http.StatusOK, letters)
}

// authorized checks basic auth against the account's credentials, and
// answers 401 like Twilio when they do not match.
func (s *Simulator) authorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if ok && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.AccountSID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.AuthToken)) == 1 &&
		r.PathValue("account") == s.cfg.AccountSID {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	writeJSON(w, http.StatusUnauthorized, map[string]any{
		"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401,
	})
	return false
}

// handleMedia serves an attached photo like api.twilio.com serves media
// with HTTP basic authentication enabled.
func (s *Simulator) handleMedia(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	m, ok := s.media[r.PathValue("media")]
	s.mu.Unlock()
	if !ok || m.messageSid != r.PathValue("message") {
		writeJSON(w, http.StatusNotFound, map[string]any{
			"code": 20404, "message": "The requested resource " + r.URL.Path + " was not found",
			"more_info": "https://www.twilio.com/docs/errors/20404", "status": 404,
		})
		return
	}
	w.Header().Set("Content-Type", m.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	w.Header().Set("Cache-Control", "private, max-age=600")
	_, _ = w.Write(m.data)
}

// handlePreview serves a sent photo to the page, if it is an image the
// browser can show safely.
func (s *Simulator) handlePreview(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m, ok := s.media[r.PathValue("media")]
	s.mu.Unlock()
	if !ok || !strings.HasPrefix(m.contentType, "image/") || m.contentType == "image/svg+xml" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(m.data)
}

// MessageSidHeader is the request header through which a dev client of
// the Messages API may say which inbound message it answers (see
// Transport); Twilio has no such thing and ignores it.
const MessageSidHeader = "X-Crossfaas-Message-Sid"

// Transport wraps next (http.DefaultTransport when nil) to send the
// MessageSid a request's context carries (see package trace) in
// MessageSidHeader, so replies sent through the Messages API are linked to
// the message they answer.
func Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if sid := trace.MessageSid(req.Context()); sid != "" {
			req = req.Clone(req.Context())
			req.Header.Set(MessageSidHeader, sid)
		}
		return next.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// handleCreateMessage is Twilio's Messages API, for twilio-go clients
// pointed at the simulator: the message lands in the thread.
func (s *Simulator) handleCreateMessage(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeTwilioError(w, 21602, "The request body is not a form: "+err.Error())
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	switch {
	case to == "":
		writeTwilioError(w, 21604, "A 'To' phone number is required.")
		return
	case from == "" && r.PostForm.Get("MessagingServiceSid") == "":
		writeTwilioError(w, 21603, "A 'From' phone number is required.")
		return
	case from != "" && from != s.cfg.TwilioNumber:
		// The account's only number is the one the phone texts.
		writeTwilioError(w, 21606, fmt.Sprintf("The From phone number %s is not a valid, SMS-capable inbound phone number or short code for your account.", from))
		return
	case body == "" && r.PostForm.Get("MediaUrl") == "":
		writeTwilioError(w, 21602, "Message body is required.")
		return
	case len([]rune(body)) > 1600:
		writeTwilioError(w, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	e := s.receive(r.Header.Get(MessageSidHeader), from, to, body)
	now := e.Time.Format(time.RFC1123Z)
	uri := fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/%s.json", s.cfg.AccountSID, e.MessageSid)
	writeJSON(w, http.StatusCreated, map[string]any{
		"account_sid": s.cfg.AccountSID, "api_version": "2010-04-01", "body": body,
		"date_created": now, "date_sent": nil, "date_updated": now, "direction": "outbound-api",
		"error_code": nil, "error_message": nil, "from": from, "messaging_service_sid": nil,
		"num_media": "0", "num_segments": "1", "price": nil, "price_unit": "USD",
		"sid": e.MessageSid, "status": "queued", "to": to, "uri": uri,
		"subresource_uris": map[string]string{"media": strings.TrimSuffix(uri, ".json") + "/Media.json"},
	})
}

func writeTwilioError(w http.ResponseWriter, code int, message string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"code": code, "message": message, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": 400,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

// NewAccountSID returns a random account SID for a local account.
func NewAccountSID() string { return smswebhook.NewSid("AC") }

// NewAuthToken returns a random 32-hex-digit auth token.
func NewAuthToken() string { return smswebhook.NewSid("")[:32] }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
