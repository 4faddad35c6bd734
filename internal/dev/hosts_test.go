package dev

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/internal/smswebhook"
)

// TestWebhookNeedsSignature: the gateway runs the real signature check,
// against the URL the client used, as API Gateway rebuilds it for its own
// domain: localhost or 127.0.0.1, at the gateway's port. A signature for
// any other URL, or a request for a host the gateway does not serve, gets
// 403.
func TestWebhookNeedsSignature(t *testing.T) {
	sys := start(t, nil)
	port := strings.TrimPrefix(sys.GatewayURL, "http://127.0.0.1:")
	// Each request is another message (a MessageSid of its own): the
	// simulator shows a MessageSid once.
	form := func(i int) url.Values {
		return url.Values{"MessageSid": {"SM" + strconv.Itoa(1000+i)}, "From": {"+15555550100"}, "To": {"+15555550199"}, "Body": {"help"}}
	}
	tests := []struct {
		name    string
		host    string // the Host header; "" for 127.0.0.1:<port>
		token   string // signs the request for signFor; "" leaves it unsigned
		signFor string
		want    int
	}{
		{"unsigned", "", "", "", http.StatusForbidden},
		{"signed with another token", "", "not-the-token", sys.GatewayURL + "/sms", http.StatusForbidden},
		{"signed with the local token", "", sys.AuthToken, sys.GatewayURL + "/sms", http.StatusOK},
		{"signed for localhost, sent to localhost", "localhost:" + port, sys.AuthToken, "http://localhost:" + port + "/sms", http.StatusOK},
		{"signed for localhost, sent to 127.0.0.1", "", sys.AuthToken, "http://localhost:" + port + "/sms", http.StatusForbidden},
		{"signed for 127.0.0.1, sent to localhost", "localhost:" + port, sys.AuthToken, sys.GatewayURL + "/sms", http.StatusForbidden},
		{"signed for another port", "", sys.AuthToken, "http://127.0.0.1:1/sms", http.StatusForbidden},
		{"signed for https", "", sys.AuthToken, "https://127.0.0.1:" + port + "/sms", http.StatusForbidden},
		{"signed for another path", "", sys.AuthToken, sys.GatewayURL + "/other", http.StatusForbidden},
		{"a host the gateway does not serve", "evil.example:" + port, sys.AuthToken, "http://evil.example:" + port + "/sms", http.StatusForbidden},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := form(i)
			req, _ := http.NewRequest("POST", sys.GatewayURL+"/sms", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.token != "" {
				req.Header.Set("X-Twilio-Signature", smswebhook.Signature(tt.token, tt.signFor, form))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("POST /sms %s = %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
			if tt.want != http.StatusForbidden || tt.host != "" {
				return // the gateway refuses other hosts before the simulator sees them
			}
			// The page shows the refused webhook under its message, saying why.
			var why string
			for _, e := range sys.Phone.Thread(0) {
				if e.Kind == "error" && e.InReplyTo == form.Get("MessageSid") {
					why = e.Body
				}
			}
			if !strings.Contains(why, "HTTP 403") || !strings.Contains(why, "X-Twilio-Signature") {
				t.Errorf("the page shows the refused webhook %s as %q, want the 403 and why (the signature)", tt.name, why)
			}
		})
	}
}

func TestBanner(t *testing.T) {
	sys := start(t, nil)
	var buf bytes.Buffer
	sys.Banner(&buf)
	for _, want := range []string{sys.PhoneURL, sys.GatewayURL + "/detect", sys.GatewayURL + "/sms", sys.LabelerURL, sys.DataDir, sys.AuthToken, "offline", "/_dev/dlq"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("Banner lacks %q:\n%s", want, &buf)
		}
	}
	if _, err := strconv.Atoi(strings.TrimPrefix(sys.GatewayURL, "http://127.0.0.1:")); err != nil {
		t.Errorf("GatewayURL = %q, want http://127.0.0.1:<port>", sys.GatewayURL)
	}
}

func TestHosts(t *testing.T) {
	t.Run("all interfaces", func(t *testing.T) {
		sys := start(t, func(o *Options) { o.Host = "0.0.0.0" })
		if !strings.HasPrefix(sys.GatewayURL, "http://127.0.0.1:") || !strings.HasPrefix(sys.PhoneURL, "http://127.0.0.1:") {
			t.Errorf("URLs = %s, %s, want loopback ones for the system's own calls", sys.GatewayURL, sys.PhoneURL)
		}
		if got := awaitReply(t, sys, text(t, sys, "face addcol wide", nil, "").MessageSid); got != "Collection wide was created." {
			t.Errorf("reply = %q", got)
		}
		// The banner warns, and shows where other machines reach it.
		var banner bytes.Buffer
		sys.Banner(&banner)
		if !sys.Exposed || !strings.Contains(banner.String(), "WARNING: listening on all interfaces") {
			t.Errorf("banner when listening on all interfaces lacks the warning:\n%s", &banner)
		}
		ips := externalIPs(false)
		if len(sys.External) != len(ips) {
			t.Errorf("External = %+v, want one entry per address %v", sys.External, ips)
		}
		for i, ip := range ips {
			port := strings.TrimPrefix(sys.PhoneURL, "http://127.0.0.1:")
			if want := "http://" + ip.String() + ":" + port; i < len(sys.External) && (sys.External[i].Phone != want || !strings.Contains(banner.String(), want)) {
				t.Errorf("phone simulator at %s missing from External %+v or the banner:\n%s", want, sys.External, &banner)
			}
		}
	})
	t.Run("loopback has no warning", func(t *testing.T) {
		sys := start(t, nil)
		var banner bytes.Buffer
		sys.Banner(&banner)
		if sys.Exposed || strings.Contains(banner.String(), "WARNING") {
			t.Errorf("banner on loopback warns:\n%s", &banner)
		}
	})
	for _, host := range []string{"10.1.2.3", "example.com"} {
		t.Run(host, func(t *testing.T) {
			_, err := Run(context.Background(), Options{Host: host, Port: -1, DataDir: t.TempDir(), Logger: testLogger(t)})
			if err == nil || !strings.Contains(err.Error(), "loopback") {
				t.Errorf("Run(Host %q) = %v, want an error asking for a loopback address", host, err)
			}
		})
	}
}
