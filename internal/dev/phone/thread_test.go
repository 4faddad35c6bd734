package phone

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	sleuthtwilio "github.com/crossfaas/crossfaas/functions/sleuth/twilio"
	"github.com/crossfaas/crossfaas/internal/dev/trace"
)

// TestProblemsThroughTwilioClient: a reply sent under trace.WithProblem
// through the real twilio-go client is marked in the thread; others not.
func TestProblemsThroughTwilioClient(t *testing.T) {
	sim, srv := newSimulator(t, &webhook{t: t, answer: "<Response/>"})
	sender, err := sleuthtwilio.NewSender(sleuthtwilio.Config{AccountSID: accountSID, AuthToken: token, APIURL: srv.URL, Transport: Transport(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := trace.WithMessageSid(context.Background(), "SM1")
	if err := sender.Send(ctx, DefaultTwilioNumber, DefaultUserNumber, "Picture added."); err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(trace.WithProblem(ctx), DefaultTwilioNumber, DefaultUserNumber, "No face found."); err != nil {
		t.Fatal(err)
	}
	got := sim.Thread(0)
	if len(got) != 2 || got[0].Problem || !got[1].Problem || got[1].InReplyTo != "SM1" {
		t.Errorf("thread = %+v, want the second reply marked as a problem", got)
	}
}

// TestClearStream: clearing the thread empties it, tells the page over its
// event stream, and a page reconnecting after the clear is told too;
// sequence numbers go on.
func TestClearStream(t *testing.T) {
	sim, srv := newSimulator(t, &webhook{t: t, answer: "<Response/>"})
	send := func(body string) {
		if err := sim.Send(context.Background(), DefaultTwilioNumber, DefaultUserNumber, body); err != nil {
			t.Fatal(err)
		}
	}
	send("first")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events := func(lastID string) (*bufio.Scanner, func()) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return bufio.NewScanner(resp.Body), func() { resp.Body.Close() }
	}
	// next returns the next event's type and data.
	next := func(sc *bufio.Scanner) (string, string) {
		var kind string
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "event: "):
				kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				return kind, strings.TrimPrefix(line, "data: ")
			}
		}
		t.Fatalf("event stream ended: %v", sc.Err())
		return "", ""
	}
	live, closeLive := events("")
	defer closeLive()
	if kind, data := next(live); kind != "entry" || !strings.Contains(data, `"first"`) {
		t.Fatalf("first event = %s %s", kind, data)
	}
	sim.Clear()
	if kind, _ := next(live); kind != "clear" {
		t.Errorf("event after Clear = %s, want clear", kind)
	}
	if got := sim.Thread(0); len(got) != 0 {
		t.Errorf("thread after Clear = %+v, want empty", got)
	}
	send("second")
	kind, data := next(live)
	var e Entry
	if kind != "entry" || json.Unmarshal([]byte(data), &e) != nil || e.Body != "second" || e.Seq != 2 {
		t.Errorf("event after a clear = %s %s, want entry 2, second", kind, data)
	}
	// A page that saw entry 1 and reconnects is told to clear first.
	again, closeAgain := events("1")
	defer closeAgain()
	if kind, _ := next(again); kind != "clear" {
		t.Errorf("first event on reconnecting after a clear = %s, want clear", kind)
	}
	if kind, data := next(again); kind != "entry" || !strings.Contains(data, `"second"`) {
		t.Errorf("then %s %s, want entry second", kind, data)
	}
}

// TestClearRefusesOtherOrigins: another site cannot clear the thread.
func TestClearRefusesOtherOrigins(t *testing.T) {
	sim, srv := newSimulator(t, &webhook{t: t, answer: "<Response/>"})
	sim.Send(context.Background(), DefaultTwilioNumber, DefaultUserNumber, "kept")
	req, _ := http.NewRequest("DELETE", srv.URL+"/api/thread", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(sim.Thread(0)) != 1 {
		t.Errorf("DELETE /api/thread from another site = %d, thread %d entries, want 403 and the thread kept", resp.StatusCode, len(sim.Thread(0)))
	}
}

// TestInfoShowsTheAccount: the page learns the account SID and the auth
// token, to show them.
func TestInfoShowsTheAccount(t *testing.T) {
	_, srv := newSimulator(t, &webhook{t: t, answer: "<Response/>"})
	resp, err := http.Get(srv.URL + "/api/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info map[string]any
	json.NewDecoder(resp.Body).Decode(&info)
	if info["accountSid"] != accountSID || info["authToken"] != token {
		t.Errorf("GET /api/info = %v, want the account SID and the auth token", info)
	}
}
