package dev

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/internal/dev/phone"
)

// entryFor returns the first entry of kind answering (or, for "sent",
// being) the message sid.
func entryFor(entries []phone.Entry, kind, sid string) (phone.Entry, bool) {
	for _, e := range entries {
		if e.Kind == kind && (e.InReplyTo == sid || kind == "sent" && e.MessageSid == sid) {
			return e, true
		}
	}
	return phone.Entry{}, false
}

// TestThreadShowsWhatHappened: the thread says which instant replies and
// replies are problems, which messages await a reply, and shows a webhook
// posted from outside the page as such, with its answer and reply.
func TestThreadShowsWhatHappened(t *testing.T) {
	sys := start(t, nil)
	p := loadPhotos(t)
	tests := []struct {
		name         string
		body         string
		photo        []byte
		wantAwaiting bool
		ackProblem   bool
		reply        string // "" when none comes
		replyProblem bool
	}{
		{"help", "help", nil, false, false, "", false},
		{"a usage mistake", "face match celebs", nil, false, true, "", false},
		{"a command that works", "face addcol friends", nil, true, false, "Collection friends was created.", false},
		{"a command the bot cannot do", "face match nope", p.person, true, false, "Collection nope does not exist.", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := text(t, sys, tt.body, tt.photo, "image/jpeg")
			if tt.reply != "" {
				if got := awaitReply(t, sys, res.MessageSid); !strings.HasPrefix(got, tt.reply) {
					t.Errorf("reply = %q, want %q", got, tt.reply)
				}
			}
			entries := sys.Phone.Thread(0)
			ack, ok := entryFor(entries, "ack", res.MessageSid)
			if !ok || ack.AwaitingReply != tt.wantAwaiting || ack.Problem != tt.ackProblem {
				t.Errorf("instant reply = %+v, want awaitingReply %v and problem %v", ack, tt.wantAwaiting, tt.ackProblem)
			}
			if reply, ok := entryFor(entries, "received", res.MessageSid); ok && reply.Problem != tt.replyProblem {
				t.Errorf("reply %q problem = %v, want %v", reply.Body, reply.Problem, tt.replyProblem)
			}
		})
	}

	t.Run("a webhook from outside the page", func(t *testing.T) {
		sid := "SM" + strings.Repeat("ab", 16)
		form := url.Values{"MessageSid": {sid}, "AccountSid": {sys.AccountSID}, "From": {"+15555550123"}, "To": {phone.DefaultTwilioNumber}, "Body": {"face addcol scripted"}}
		postWebhook(t, sys, form)
		if got := awaitReply(t, sys, sid); got != "Collection scripted was created." {
			t.Errorf("reply = %q", got)
		}
		entries := sys.Phone.Thread(0)
		sent, ok := entryFor(entries, "sent", sid)
		if !ok || !sent.External || sent.Body != "face addcol scripted" || sent.From != "+15555550123" {
			t.Errorf("sent entry = %+v, want the external message", sent)
		}
		if ack, ok := entryFor(entries, "ack", sid); !ok || !ack.AwaitingReply || ack.Seq < sent.Seq {
			t.Errorf("instant reply = %+v, want it after the message, awaiting the reply", ack)
		}
		// A forged one is shown with its refusal.
		forged := url.Values{"MessageSid": {"SM" + strings.Repeat("cd", 16)}, "From": {"+15555550123"}, "To": {phone.DefaultTwilioNumber}, "Body": {"face addcol forged"}}
		req, _ := http.NewRequest("POST", sys.GatewayURL+"/sms", strings.NewReader(forged.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", "forged")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		refusal, ok := entryFor(sys.Phone.Thread(0), "error", forged.Get("MessageSid"))
		if resp.StatusCode != http.StatusForbidden || !ok || !strings.Contains(refusal.Body, "403") || !strings.Contains(refusal.Body, "X-Twilio-Signature") {
			t.Errorf("forged webhook = %d, error entry %+v, want 403 shown with its reason", resp.StatusCode, refusal)
		}
	})

	t.Run("clear", func(t *testing.T) {
		req, _ := http.NewRequest("DELETE", sys.PhoneURL+"/api/thread", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || len(thread(t, sys)) != 0 {
			t.Errorf("DELETE /api/thread = %d, thread %+v, want 204 and an empty thread", resp.StatusCode, thread(t, sys))
		}
		res := text(t, sys, "help", nil, "")
		if got := thread(t, sys); len(got) != 2 || got[0].MessageSid != res.MessageSid {
			t.Errorf("thread after a clear and a message = %+v, want the message and its instant reply", got)
		}
	})
}

// TestCollectionsPanel: GET /api/collections lists the system's
// collections, the default one first, with their faces and, for a face
// added from the page, its photo.
func TestCollectionsPanel(t *testing.T) {
	sys := start(t, nil)
	p := loadPhotos(t)
	awaitReply(t, sys, text(t, sys, "face addcol friends", nil, "").MessageSid)
	awaitReply(t, sys, text(t, sys, "face addimg celebs mel_gibson", p.person, "image/jpeg").MessageSid)
	// A collection made from outside the page is listed too.
	postWebhook(t, sys, url.Values{"MessageSid": {"SM" + strings.Repeat("ef", 16)}, "From": {phone.DefaultUserNumber}, "To": {phone.DefaultTwilioNumber}, "Body": {"face addcol other"}})
	awaitReply(t, sys, "SM"+strings.Repeat("ef", 16))

	resp, err := http.Get(sys.PhoneURL + "/api/collections")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got collectionsView
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || !got.Available {
		t.Fatalf("GET /api/collections = %+v, %v", got, err)
	}
	var names []string
	for _, c := range got.Collections {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "celebs,friends,other" {
		t.Errorf("collections = %q, want celebs first, then friends and other", names)
	}
	celebs := got.Collections[0]
	if len(celebs.Faces) != 1 || celebs.Faces[0].DisplayName != "Mel Gibson" || celebs.Faces[0].Photo == "" {
		t.Fatalf("faces of celebs = %+v, want Mel Gibson with the photo", celebs.Faces)
	}
	photo, err := http.Get(sys.PhoneURL + celebs.Faces[0].Photo)
	if err != nil {
		t.Fatal(err)
	}
	photo.Body.Close()
	if photo.StatusCode != 200 || photo.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("GET the face's photo = %d %s, want the JPEG", photo.StatusCode, photo.Header.Get("Content-Type"))
	}
}
