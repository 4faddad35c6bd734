package phone

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	sleuthtwilio "github.com/crossfaas/crossfaas/functions/sleuth/twilio"
	"github.com/crossfaas/crossfaas/internal/dev/trace"
)

const token = "0123456789abcdef0123456789abcdef"

var accountSID = "AC" + strings.Repeat("ab", 16)

var _ sleuth.SMSSender = (*Simulator)(nil)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// webhook is a fake bot: it checks the signature like the request handler,
// fetches the media with the account's credentials and answers TwiML.
type webhook struct {
	t       *testing.T
	answer  string
	status  int
	mu      sync.Mutex
	params  url.Values
	media   []byte
	sigOK   bool
	fetched int
}

func (wh *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	v := client.NewRequestValidator(token)
	u := "http://" + r.Host + r.URL.RequestURI()
	wh.mu.Lock()
	wh.params = form
	wh.sigOK = v.ValidateBody(u, body, r.Header.Get("X-Twilio-Signature"))
	wh.mu.Unlock()
	if m := form.Get("MediaUrl0"); m != "" {
		req, _ := http.NewRequest("GET", m, nil)
		req.SetBasicAuth(accountSID, token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			wh.t.Errorf("fetching media: %v", err)
		} else {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wh.mu.Lock()
			wh.media, wh.fetched = data, resp.StatusCode
			wh.mu.Unlock()
		}
	}
	if wh.status != 0 {
		w.WriteHeader(wh.status)
	}
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, wh.answer)
}

// newSimulator serves a simulator posting to wh.
func newSimulator(t *testing.T, wh http.Handler) (*Simulator, *httptest.Server) {
	t.Helper()
	hook := httptest.NewServer(wh)
	t.Cleanup(hook.Close)
	var sim *Simulator
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sim.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var err error
	sim, err = New(Config{AccountSID: accountSID, AuthToken: token, BaseURL: srv.URL, WebhookURL: hook.URL + "/sms", Mode: "offline"}, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim, srv
}

func TestSendMessage(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n fake image bytes")
	tests := []struct {
		name      string
		body      string
		photo     *Photo
		answer    string
		status    int
		wantAck   string
		wantError string
		wantKinds []string
	}{
		{
			name: "text with ack", body: "face addcol demo",
			answer:    `<?xml version="1.0" encoding="UTF-8"?><Response><Message>Creating collection demo...</Message></Response>`,
			wantAck:   "Creating collection demo...",
			wantKinds: []string{"sent", "ack"},
		},
		{
			name: "photo", body: "face match demo", photo: &Photo{Data: png},
			answer:    `<Response><Message><Body>Looking...</Body></Message></Response>`,
			wantAck:   "Looking...",
			wantKinds: []string{"sent", "ack"},
		},
		{
			name: "empty response sends no SMS", body: "hi",
			answer:    `<Response/>`,
			wantKinds: []string{"sent"},
		},
		{
			name: "webhook refuses", body: "hi", status: 403, answer: "bad signature",
			wantError: "HTTP 403: bad signature",
			wantKinds: []string{"sent", "error"},
		},
		{
			name: "not TwiML", body: "hi", answer: "<html>",
			wantError: "not valid TwiML",
			wantKinds: []string{"sent", "error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wh := &webhook{t: t, answer: tt.answer, status: tt.status}
			sim, srv := newSimulator(t, wh)
			res, err := sim.SendMessage(context.Background(), tt.body, tt.photo)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ack != tt.wantAck || !strings.Contains(res.Error, tt.wantError) || (tt.wantError == "") != (res.Error == "") {
				t.Errorf("SendMessage(%q) = %+v, want ack %q, error containing %q", tt.body, res, tt.wantAck, tt.wantError)
			}
			if !wh.sigOK {
				t.Errorf("the webhook's twilio-go validator refused X-Twilio-Signature")
			}
			p := wh.params
			if p.Get("Body") != tt.body || p.Get("MessageSid") != res.MessageSid || p.Get("AccountSid") != accountSID ||
				p.Get("From") != DefaultUserNumber || p.Get("To") != DefaultTwilioNumber {
				t.Errorf("webhook params = %v", p)
			}
			wantPrefix := "SM" // Twilio: SM for SMS, MM for messages with media
			if tt.photo != nil {
				wantPrefix = "MM"
			}
			for _, name := range []string{"MessageSid", "SmsSid", "SmsMessageSid"} {
				if got := p.Get(name); !strings.HasPrefix(got, wantPrefix) || got != res.MessageSid {
					t.Errorf("%s = %q, want %s followed by 32 hex digits, and the same in every sid parameter", name, got, wantPrefix)
				}
			}
			if tt.photo != nil {
				if p.Get("NumMedia") != "1" || p.Get("MediaContentType0") != "image/png" ||
					!strings.HasPrefix(p.Get("MediaUrl0"), srv.URL+"/2010-04-01/Accounts/"+accountSID+"/Messages/"+res.MessageSid+"/Media/ME") {
					t.Errorf("media params = %v", p)
				}
				if wh.fetched != 200 || !bytes.Equal(wh.media, png) {
					t.Errorf("media fetch = %d %q, want 200 and the photo", wh.fetched, wh.media)
				}
			} else if p.Get("NumMedia") != "0" {
				t.Errorf("NumMedia = %q, want 0", p.Get("NumMedia"))
			}
			var kinds []string
			for _, e := range sim.Thread(0) {
				kinds = append(kinds, e.Kind)
			}
			if strings.Join(kinds, ",") != strings.Join(tt.wantKinds, ",") {
				t.Errorf("thread kinds = %v, want %v", kinds, tt.wantKinds)
			}
		})
	}
}

func TestMediaNeedsCredentials(t *testing.T) {
	wh := &webhook{t: t, answer: "<Response/>"}
	sim, srv := newSimulator(t, wh)
	res, err := sim.SendMessage(context.Background(), "x", &Photo{ContentType: "image/jpeg", Data: []byte("jpeg")})
	if err != nil {
		t.Fatal(err)
	}
	mediaURL := wh.params.Get("MediaUrl0")
	tests := []struct {
		name       string
		url        string
		user, pass string
		want       int
	}{
		{"right credentials", mediaURL, accountSID, token, 200},
		{"no credentials", mediaURL, "", "", 401},
		{"wrong token", mediaURL, accountSID, "nope", 401},
		{"other message", strings.Replace(mediaURL, res.MessageSid, "SM"+strings.Repeat("0", 32), 1), accountSID, token, 404},
		{"unknown media", mediaURL[:strings.LastIndex(mediaURL, "/")] + "/ME00", accountSID, token, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tt.url, nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s = %d, want %d", tt.url, resp.StatusCode, tt.want)
			}
		})
	}
	_ = srv
}

func TestRepliesThroughTwilioClient(t *testing.T) {
	sim, srv := newSimulator(t, &webhook{t: t, answer: "<Response/>"})
	sender, err := sleuthtwilio.NewSender(sleuthtwilio.Config{
		AccountSID: accountSID, AuthToken: token, APIURL: srv.URL, Transport: Transport(nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := trace.WithMessageSid(context.Background(), "SMinbound")
	if _, err := sender.Send(ctx, DefaultTwilioNumber, DefaultUserNumber, "Mel Gibson (97.1%)"); err != nil {
		t.Fatalf("Send through twilio-go = %v", err)
	}
	thread := sim.Thread(0)
	if len(thread) != 1 {
		t.Fatalf("thread = %+v, want one entry", thread)
	}
	e := thread[0]
	if e.Kind != "received" || e.Body != "Mel Gibson (97.1%)" || e.From != DefaultTwilioNumber || e.To != DefaultUserNumber || e.InReplyTo != "SMinbound" {
		t.Errorf("entry = %+v", e)
	}

	bad, _ := sleuthtwilio.NewSender(sleuthtwilio.Config{AccountSID: accountSID, AuthToken: "wrong", APIURL: srv.URL})
	if _, err := bad.Send(context.Background(), DefaultTwilioNumber, DefaultUserNumber, "x"); err == nil {
		t.Errorf("Send with a wrong token succeeded, want the API's 401")
	}
	if _, err := sender.Send(context.Background(), DefaultTwilioNumber, DefaultUserNumber, strings.Repeat("x", 1601)); !errors.Is(err, sleuthtwilio.ErrRejected) {
		t.Errorf("Send of 1601 characters = %v, want ErrRejected", err)
	}
	// Like Twilio, the API sends only from the account's number.
	if _, err := sender.Send(context.Background(), DefaultUserNumber, DefaultTwilioNumber, "swapped"); !errors.Is(err, sleuthtwilio.ErrRejected) {
		t.Errorf("Send from a number not of the account = %v, want ErrRejected", err)
	}
	if got := len(sim.Thread(0)); got != 1 {
		t.Errorf("thread has %d entries after refused sends, want 1", got)
	}
}

func TestSendDirect(t *testing.T) {
	sim, _ := newSimulator(t, &webhook{t: t})
	ctx := trace.WithMessageSid(context.Background(), "SM1")
	if _, err := sim.Send(ctx, DefaultTwilioNumber, DefaultUserNumber, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Send(ctx, DefaultTwilioNumber, DefaultUserNumber, ""); err == nil {
		t.Errorf("Send of an empty body succeeded")
	}
	if got := sim.Thread(0); len(got) != 1 || got[0].Body != "hello" || got[0].InReplyTo != "SM1" {
		t.Errorf("thread = %+v", got)
	}
}

func TestNewValidates(t *testing.T) {
	good := Config{AccountSID: accountSID, AuthToken: token, BaseURL: "http://127.0.0.1:1", WebhookURL: "http://127.0.0.1:2/sms"}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"bad account SID", func(c *Config) { c.AccountSID = "AC123" }},
		{"no token", func(c *Config) { c.AuthToken = "" }},
		{"no base URL", func(c *Config) { c.BaseURL = "" }},
		{"no webhook", func(c *Config) { c.WebhookURL = "" }},
		{"relative webhook", func(c *Config) { c.WebhookURL = "sms" }},
		{"phone number not E.164", func(c *Config) { c.UserNumber = "555-0100" }},
		{"twilio number not E.164", func(c *Config) { c.TwilioNumber = "+0123" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			if _, err := New(cfg, discard()); err == nil {
				t.Errorf("New(%+v) succeeded, want an error", cfg)
			}
		})
	}
	if _, err := New(good, discard()); err != nil {
		t.Errorf("New(good) = %v", err)
	}
}
