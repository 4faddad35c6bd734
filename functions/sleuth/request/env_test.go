package request

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv/awsenvtest"
)

// setRequestEnv sets the request Lambda's environment for the rest of the
// test, with SSM and SNS at ssmURL and snsURL, then the overrides ("" unsets
// a variable).
func setRequestEnv(t *testing.T, ssmURL, snsURL string, overrides map[string]string) {
	t.Helper()
	awsenvtest.Setenv(t, map[string]string{"SSM": ssmURL, "SNS": snsURL})
	t.Setenv("AWS_DEFAULT_REGION", "")
	for k, v := range map[string]string{
		sleuth.EnvAddCollectionTopic:  testTopics[sleuth.VerbAddCollection],
		sleuth.EnvAddImageTopic:       testTopics[sleuth.VerbAddImage],
		sleuth.EnvMatchTopic:          testTopics[sleuth.VerbMatch],
		sleuth.EnvAuthTokenParam:      authTokenParam,
		sleuth.EnvAllowedSendersParam: allowedSendersParam,
		sleuth.EnvWebhookURL:          testURL,
	} {
		t.Setenv(k, v)
	}
	for k, v := range overrides {
		t.Setenv(k, v)
	}
}

// gatedSSM is a fake SSM that holds every request until open is closed.
func gatedSSM(t *testing.T, fake *awsenvtest.SSM) (endpoint string, open func()) {
	t.Helper()
	target, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	next := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
			next.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	var opened bool
	open = func() {
		if !opened {
			opened = true
			close(gate)
		}
	}
	t.Cleanup(func() { open(); srv.Close() })
	return srv.URL, open
}

func TestFromEnv(t *testing.T) {
	ssm := awsenvtest.NewSSM(t, map[string]string{authTokenParam: testToken, allowedSendersParam: "*"})
	sns := awsenvtest.NewSNS(t, testTopics[sleuth.VerbAddCollection])
	ssmURL, open := gatedSSM(t, ssm)
	setRequestEnv(t, ssmURL, sns.URL, nil)

	h, err := FromEnv(t.Context(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("FromEnv() error = %v", err)
	}

	// FromEnv returned before the token came; requests wait for it.
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := h.Ready(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ready() while SSM holds the token = %v, want context.DeadlineExceeded", err)
	}
	resp, err := h.Handle(short, webhookEvent(testToken, smsParams("face addcol celebs")))
	if err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("Handle() before the token came = %d %q, %v; want 500", resp.StatusCode, resp.Body, err)
	}

	open()
	if err := h.Ready(t.Context()); err != nil {
		t.Fatalf("Ready() once SSM answers = %v", err)
	}
	resp, err = h.Handle(t.Context(), webhookEvent(testToken, smsParams("face addcol celebs")))
	if err != nil {
		t.Fatalf("Handle() error = %v", err)
	}
	if got, want := twimlMessage(t, resp), "Got it - creating collection celebs..."; got != want {
		t.Errorf("reply = %q, want %q", got, want)
	}
	if pubs := sns.Published(); len(pubs) != 1 || pubs[0].TopicARN != testTopics[sleuth.VerbAddCollection] {
		t.Errorf("SNS got %+v, want one job on the addcol topic", pubs)
	}
	forged, _ := h.Handle(t.Context(), webhookEvent("forged-token", smsParams("face addcol celebs")))
	if forged.StatusCode != http.StatusForbidden {
		t.Errorf("Handle(forged) status = %d, want 403", forged.StatusCode)
	}
	// One GetParameters call reads the token and the allowed senders.
	if n, m := ssm.Calls("GetParameters"), ssm.Calls("GetParameter"); n != 1 || m != 0 {
		t.Errorf("SSM served %d GetParameters and %d GetParameter calls, want 1 and 0", n, m)
	}
	for _, errs := range [][]error{ssm.Errors(), sns.Errors()} {
		if len(errs) > 0 {
			t.Errorf("fakes saw malformed requests: %v", errs)
		}
	}
}

func TestFromEnvTokenFails(t *testing.T) {
	ssm := awsenvtest.NewSSM(t, map[string]string{authTokenParam: testToken, allowedSendersParam: "*", "/blank": "", "/bad-list": "+15550001111,5550002222"})
	sns := awsenvtest.NewSNS(t)
	tests := []struct {
		name string
		env  map[string]string
		want string
		is   func(error) bool
	}{
		{"missing token parameter", map[string]string{sleuth.EnvAuthTokenParam: "/nope"}, "ssm get parameters: not found: [/nope]", func(error) bool { return true }},
		{"empty token parameter", map[string]string{sleuth.EnvAuthTokenParam: "/blank"}, "ssm get parameters: /blank: empty value", func(error) bool { return true }},
		{"missing senders parameter", map[string]string{sleuth.EnvAllowedSendersParam: "/nope"}, "ssm get parameters: not found: [/nope]", func(error) bool { return true }},
		// No number in the error: they are personal data.
		{"bad allowed senders", map[string]string{sleuth.EnvAllowedSendersParam: "/bad-list"}, `/bad-list: allowed senders: "******2222" is not an E.164 phone number`, func(err error) bool {
			return !strings.Contains(err.Error(), "5550002222")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setRequestEnv(t, ssm.URL, sns.URL, tt.env)
			h, err := FromEnv(t.Context(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("FromEnv() error = %v", err)
			}
			err = h.Ready(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !tt.is(err) {
				t.Fatalf("Ready() = %v, want an error containing %q", err, tt.want)
			}
			if again := h.Ready(t.Context()); again != err {
				t.Errorf("Ready() again = %v, want the same %v", again, err)
			}
			resp, _ := h.Handle(t.Context(), webhookEvent(testToken, smsParams("face addcol celebs")))
			if resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("Handle() without a token = %d, want 500", resp.StatusCode)
			}
		})
	}
	if n := len(sns.Published()); n != 0 {
		t.Errorf("SNS got %d messages, want none", n)
	}
}

func TestFromEnvConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing topic", map[string]string{sleuth.EnvMatchTopic: ""}, sleuth.EnvMatchTopic + " is not set"},
		{"missing parameter name", map[string]string{sleuth.EnvAuthTokenParam: " "}, sleuth.EnvAuthTokenParam + " is not set"},
		{"missing senders parameter name", map[string]string{sleuth.EnvAllowedSendersParam: ""}, sleuth.EnvAllowedSendersParam + " is not set"},
		{"missing region", map[string]string{"AWS_REGION": ""}, "AWS_REGION is not set"},
		{"missing credentials", map[string]string{"AWS_ACCESS_KEY_ID": ""}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setRequestEnv(t, "http://127.0.0.1:1", "http://127.0.0.1:1", tt.env)
			if h, err := FromEnv(t.Context(), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FromEnv() = %v, %v, want an error containing %q", h, err, tt.want)
			}
		})
	}
}

func TestNewReady(t *testing.T) {
	h, _, _ := newTestHandler(t, Config{})
	if err := h.Ready(t.Context()); err != nil {
		t.Errorf("Ready() of a handler with a token = %v, want nil", err)
	}
	noToken := New(Config{Topics: testTopics}, Deps{Publisher: &fakePublisher{t: t}, Logger: slog.New(slog.DiscardHandler)})
	if err := noToken.Ready(t.Context()); !errors.Is(err, errNoAuthToken) {
		t.Errorf("Ready() of a handler without a token = %v, want %v", err, errNoAuthToken)
	}
}

// TestFromEnvAllowList: the allowed senders come from their SSM parameter,
// not from the environment.
func TestFromEnvAllowList(t *testing.T) {
	ssm := awsenvtest.NewSSM(t, map[string]string{authTokenParam: testToken, allowedSendersParam: " +15550001111 , +447700900123"})
	sns := awsenvtest.NewSNS(t)
	setRequestEnv(t, ssm.URL, sns.URL, nil)
	h, err := FromEnv(t.Context(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ from, want string }{
		{"+15550001111", "Got it - creating collection celebs..."},
		{"+447700900123", "Got it - creating collection celebs..."},
		{"+15550009999", replyNotAllowed},
	} {
		params := smsParams("face addcol celebs")
		params["From"] = tt.from
		resp, err := h.Handle(t.Context(), webhookEvent(testToken, params))
		if err != nil {
			t.Fatal(err)
		}
		if got := twimlMessage(t, resp); got != tt.want {
			t.Errorf("reply to %s = %q, want %q", tt.from, got, tt.want)
		}
	}
}

func TestParseAllowedSenders(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "*", want: ""},
		{in: " * ", want: ""},
		{in: "+15550001111", want: "+15550001111"},
		{in: " +15550001111, +447700900123 ,", want: "+15550001111 +447700900123"},
		{in: "", wantErr: true},
		{in: ",", wantErr: true},
		{in: "+15550001111,5550002222", wantErr: true},
		{in: "*,+15550001111", wantErr: true},
	} {
		got, err := ParseAllowedSenders(tt.in)
		if (err != nil) != tt.wantErr || strings.Join(got, " ") != tt.want {
			t.Errorf("ParseAllowedSenders(%q) = %q, %v, want %q (error: %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
