package phone

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/trace"
	"github.com/crossfaas/crossfaas/internal/smswebhook"
)

// Send delivers an SMS from the bot to the simulated phone's thread. It
// implements sleuth.SMSSender; the MessageSid the context carries (see
// package trace) links the reply to the message it answers, and
// trace.Problem marks it as explaining why a command could not be done.
func (s *Simulator) Send(ctx context.Context, from, to, body string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("phone send: %w", err)
	}
	if to == "" || body == "" {
		return fmt.Errorf("phone send: to %q and body %q must not be empty", to, body)
	}
	s.receive(trace.MessageSid(ctx), from, to, body, trace.Problem(ctx))
	return nil
}

func (s *Simulator) receive(inReplyTo, from, to, body string, problem bool) Entry {
	e := s.add(Entry{Kind: "received", From: from, To: to, Body: body, MessageSid: smswebhook.NewSid("SM"), InReplyTo: inReplyTo, Problem: problem})
	log := s.logger.With("sid", inReplyTo, "sms_sid", e.MessageSid, "from", from, "to", to)
	if to != s.cfg.UserNumber && !s.externalSender(inReplyTo, to) {
		log.Warn("phone: SMS to a number that is not the simulated phone", "body", body)
	} else {
		log.Debug("phone: SMS received", "body", body)
	}
	return e
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

// Request headers through which a dev client of the Messages API says
// which inbound message a reply answers and whether it explains a problem
// (see Transport); Twilio has no such thing and ignores them.
const (
	MessageSidHeader = "X-Crossfaas-Message-Sid"
	ProblemHeader    = "X-Crossfaas-Problem"
)

// Transport wraps next (http.DefaultTransport when nil) to send what a
// request's context carries (see package trace): the MessageSid in
// MessageSidHeader and the problem mark in ProblemHeader, so replies sent
// through the Messages API are linked to the message they answer and
// shown as they are.
func Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		sid, problem := trace.MessageSid(req.Context()), trace.Problem(req.Context())
		if sid != "" || problem {
			req = req.Clone(req.Context())
		}
		if sid != "" {
			req.Header.Set(MessageSidHeader, sid)
		}
		if problem {
			req.Header.Set(ProblemHeader, "1")
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
	e := s.receive(r.Header.Get(MessageSidHeader), from, to, body, r.Header.Get(ProblemHeader) == "1")
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
