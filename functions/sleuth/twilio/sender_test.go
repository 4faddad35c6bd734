package twilio_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/crossfaas/crossfaas/functions/sleuth/internal/twiliofake"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
)

func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// messagesAPI fakes Twilio's Messages API: POST
// /2010-04-01/Accounts/{sid}/Messages.json with basic auth, form fields From,
// To and Body.
type messagesAPI struct {
	srv *httptest.Server

	mu       sync.Mutex
	messages []url.Values
	paths    []string
	fail     []int // statuses to answer with, one per request, before succeeding
}

func newMessagesAPI(t *testing.T, prefix string) *messagesAPI {
	t.Helper()
	api := &messagesAPI{}
	api.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.mu.Lock()
		defer api.mu.Unlock()
		api.paths = append(api.paths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		if sid, token, ok := r.BasicAuth(); !ok || sid != accountSID || token != authToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != prefix+"/2010-04-01/Accounts/"+accountSID+"/Messages.json" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"code":20404,"message":"%s %s not found","status":404}`, r.Method, r.URL.Path)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			fmt.Fprintf(w, `{"code":0,"message":"content type %s","status":415}`, ct)
			return
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if len(api.fail) > 0 {
			status := api.fail[0]
			api.fail = api.fail[1:]
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"code":21211,"message":"The 'To' number is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":%d}`, status)
			return
		}
		api.messages = append(api.messages, r.PostForm)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":"SM%032d","account_sid":%q,"from":%q,"to":%q,"body":%q,"status":"queued","direction":"outbound-api"}`,
			len(api.messages), accountSID, r.PostForm.Get("From"), r.PostForm.Get("To"), r.PostForm.Get("Body"))
	}))
	t.Cleanup(api.srv.Close)
	return api
}

func (api *messagesAPI) sent() []url.Values {
	api.mu.Lock()
	defer api.mu.Unlock()
	return append([]url.Values(nil), api.messages...)
}

func TestSend(t *testing.T) {
	for _, prefix := range []string{"", "/twilio"} {
		t.Run("prefix "+prefix, func(t *testing.T) {
			api := newMessagesAPI(t, prefix)
			sender, err := twilio.NewSender(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: api.srv.URL + prefix + "/"})
			if err != nil {
				t.Fatal(err)
			}
			body := "Face matched Mel Gibson with 99.1% similarity.\n\nMel Columcille Gerard Gibson is an American actor…"
			if _, err := sender.Send(context.Background(), "+15005550006", "+15551234567", body); err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			sent := api.sent()
			if len(sent) != 1 {
				t.Fatalf("API got %d messages, want 1 (paths %q)", len(sent), api.paths)
			}
			for field, want := range map[string]string{"From": "+15005550006", "To": "+15551234567", "Body": body, "SmartEncoded": "true"} {
				if got := sent[0].Get(field); got != want {
					t.Errorf("form field %s = %q, want %q", field, got, want)
				}
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		wantRejected bool
	}{
		{name: "invalid number", status: http.StatusBadRequest, wantRejected: true},
		{name: "rate limited", status: http.StatusTooManyRequests},
		{name: "server error", status: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newMessagesAPI(t, "")
			api.fail = []int{tt.status}
			sender, err := twilio.NewSender(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: api.srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = sender.Send(context.Background(), "+15005550006", "+15551234567", "hi")
			if err == nil {
				t.Fatalf("Send() with status %d: error = nil", tt.status)
			}
			if got := errors.Is(err, twilio.ErrRejected); got != tt.wantRejected {
				t.Errorf("Send() with status %d: errors.Is(%v, ErrRejected) = %v, want %v", tt.status, err, got, tt.wantRejected)
			}
			var apiErr *client.TwilioRestError
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status {
				t.Errorf("Send() with status %d: error %v, want a *client.TwilioRestError with that status", tt.status, err)
			}
		})
	}
}

func TestSendWrongCredentials(t *testing.T) {
	api := newMessagesAPI(t, "")
	sender, err := twilio.NewSender(twilio.Config{AccountSID: accountSID, AuthToken: "wrongtoken0000", APIURL: api.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sender.Send(context.Background(), "+15005550006", "+15551234567", "hi")
	if err == nil || errors.Is(err, twilio.ErrRejected) {
		t.Errorf("Send() with a wrong token: error = %v, want a failure that is not ErrRejected", err)
	}
}

func TestSendHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	sender, err := twilio.NewSender(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = sender.Send(ctx, "+15005550006", "+15551234567", "hi")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send() past the deadline: error = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Send() returned after %v, want it to stop at the deadline", elapsed)
	}
}

func TestSendRequiresFields(t *testing.T) {
	sender, err := twilio.NewSender(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][3]string{{"", "+1", "b"}, {"+1", "", "b"}, {"+1", "+2", ""}} {
		if _, err := sender.Send(context.Background(), args[0], args[1], args[2]); err == nil || strings.Contains(err.Error(), "connect") {
			t.Errorf("Send(%q, %q, %q) error = %v, want a validation error", args[0], args[1], args[2], err)
		}
	}
}

// TestSendThenSent: Send returns the SID of the message Twilio created, and
// Sent finds it among the messages of the Messages resource, by from, to,
// body and time, across pages.
func TestSendThenSent(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	api := twiliofake.New(t, accountSID, authToken, clock)
	sender, err := twilio.NewSender(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const from, to = "+15005550006", "+15551234567"
	send := func(to, body string) string {
		t.Helper()
		sid, err := sender.Send(ctx, from, to, body)
		if err != nil || !strings.HasPrefix(sid, "SM") {
			t.Fatalf("Send(%q) = %q, %v, want an SM sid", body, sid, err)
		}
		return sid
	}
	old := send(to, "same")
	now = now.Add(time.Minute)
	attempt := now
	for range 60 { // more than one page of 50
		send(to, "other")
	}
	mine := send(to, "same")
	send("+15559999999", "same")
	now = now.Add(time.Second)
	second := send(to, "same")

	tests := []struct {
		name  string
		body  string
		since time.Time
		want  []string
	}{
		{"since the attempt, oldest first", "same", attempt, []string{mine, second}},
		{"since before", "same", attempt.Add(-time.Hour), []string{old, mine, second}},
		{"since after", "same", now.Add(time.Second), nil},
		{"other body", "none", attempt, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sender.Sent(ctx, from, to, tt.body, tt.since)
			if err != nil {
				t.Fatalf("Sent() error = %v", err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Sent(%q, %v) = %q, want %q", tt.body, tt.since, got, tt.want)
			}
		})
	}
}

// TestSentToleratesTwilioTransformations: Sent finds a message whose body
// Twilio changed, by smart encoding (typographic quotes, dashes, the
// ellipsis) or, on a trial account, with its prefix, and only that one.
func TestSentToleratesTwilioTransformations(t *testing.T) {
	const (
		from, to = "+15005550006", "+15551234567"
		body     = "Face matched \u201cMel\u201d \u2013 it\u2019s him\u2026"
	)
	for _, tt := range []struct {
		name       string
		trial      bool
		wantStored string
	}{
		{"smart encoding", false, `Face matched "Mel" - it's him...`},
		{"trial account and smart encoding", true, `Sent from your Twilio trial account - Face matched "Mel" - it's him...`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := twiliofake.New(t, accountSID, authToken, nil)
			api.SetTrial(tt.trial)
			sender, err := twilio.NewSender(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: api.URL})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			since := time.Now().Add(-time.Minute)
			sid, err := sender.Send(ctx, from, to, body)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sender.Send(ctx, from, to, "Face matched Mel"); err != nil {
				t.Fatal(err)
			}
			if msgs := api.Messages(); len(msgs) != 2 || msgs[0].Body != tt.wantStored {
				t.Fatalf("Twilio stored %+v, want the body %q first", msgs, tt.wantStored)
			}
			got, err := sender.Sent(ctx, from, to, body, since)
			if err != nil || len(got) != 1 || got[0] != sid {
				t.Errorf("Sent(%q) = %q, %v, want [%s]", body, got, err, sid)
			}
			if got, err := sender.Sent(ctx, from, to, "Face matched \u201cMel\u201d", since); err != nil || len(got) != 0 {
				t.Errorf("Sent(another body) = %q, %v, want none", got, err)
			}
		})
	}
}
