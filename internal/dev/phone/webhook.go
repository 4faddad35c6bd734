package phone

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/crossfaas/crossfaas/functions/sleuth/command"
	"github.com/crossfaas/crossfaas/internal/dev/devlog"
	"github.com/crossfaas/crossfaas/internal/smswebhook"
)

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
	// Ack is the text of the TwiML <Message> answered, if any: the
	// instant reply.
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
		s.media[mediaSid] = media{messageSid: messageSid, body: body, contentType: contentType, data: photo.Data, time: s.cfg.Now().UTC()}
		s.mu.Unlock()
		mediaURL := fmt.Sprintf("%s/2010-04-01/Accounts/%s/Messages/%s/Media/%s", s.cfg.BaseURL, s.cfg.AccountSID, messageSid, mediaSid)
		params.Set("NumMedia", "1")
		params.Set("MediaContentType0", contentType)
		params.Set("MediaUrl0", mediaURL)
		sent.MediaURL, sent.MediaType, sent.PreviewURL = mediaURL, contentType, previewPath(mediaSid)
		log = log.With("media_type", contentType, "media_bytes", len(photo.Data))
	}
	s.add(sent)
	log.Info("phone: texted the bot", devlog.Hop(), "body", body)

	status, answer, err := smswebhook.Post(ctx, s.cfg.HTTPClient, s.cfg.WebhookURL, s.cfg.AuthToken, params)
	return s.recordAnswer(params, status, answer, err), nil
}

// ExternalWebhook records, before it is handled, a webhook that reached
// the bot from outside the page (a developer's script posting to the
// gateway): the thread shows it as a message sent from outside, and its
// answer and replies under it. It returns false, and records nothing, for
// the simulator's own webhooks and for a form without a MessageSid.
func (s *Simulator) ExternalWebhook(params url.Values) bool {
	sid := params.Get("MessageSid")
	if sid == "" || s.Sent(sid) {
		return false
	}
	e := Entry{Kind: "sent", External: true, From: params.Get("From"), To: params.Get("To"), Body: params.Get("Body"), MessageSid: sid}
	if n, _ := strconv.Atoi(params.Get("NumMedia")); n > 0 {
		e.MediaURL, e.MediaType = params.Get("MediaUrl0"), params.Get("MediaContentType0")
	}
	s.add(e)
	s.logger.With("sid", sid).Info("phone: webhook from outside the page", devlog.Hop(), "body", e.Body)
	return true
}

// ExternalAnswer records the answer to a webhook ExternalWebhook recorded:
// the HTTP status and body the gateway sent.
func (s *Simulator) ExternalAnswer(params url.Values, status int, answer []byte) {
	s.recordAnswer(params, status, answer, nil)
}

// recordAnswer records the webhook's answer to the message params
// describe, as Twilio would treat it: an error entry for a failure
// (Twilio's errors 11200 and 12100), the TwiML <Message> as the instant
// reply otherwise.
func (s *Simulator) recordAnswer(params url.Values, status int, answer []byte, postErr error) Result {
	sid := params.Get("MessageSid")
	log := s.logger.With("sid", sid)
	res := Result{MessageSid: sid, Status: status}
	switch {
	case postErr != nil:
		res.Error = fmt.Sprintf("Twilio error 11200: the webhook %s could not be reached: %v", s.cfg.WebhookURL, postErr)
	case status < 200 || status > 299:
		res.Error = fmt.Sprintf("Twilio error 11200: the webhook answered HTTP %d", status)
		if text := strings.TrimSpace(string(answer)); text != "" {
			res.Error += ": " + clip(text, 200)
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
		s.add(Entry{Kind: "error", Body: res.Error, InReplyTo: sid, Status: status, Problem: true})
		return res
	}
	log.Debug("phone: webhook answered", "status", status, "ack", res.Ack)
	if res.Ack != "" {
		// Twilio sends the TwiML <Message> back as an SMS.
		awaiting := s.expecting(sid)
		s.add(Entry{
			Kind: "ack", From: params.Get("To"), To: params.Get("From"), Body: res.Ack, InReplyTo: sid, Status: status,
			AwaitingReply: awaiting, Problem: !awaiting && !isHelp(params),
		})
	}
	return res
}

// isHelp reports whether the message params describe asks for the help,
// the one instant reply that is neither an acknowledgement nor a problem.
// It parses the message with the bot's own parser.
func isHelp(params url.Values) bool {
	n, _ := strconv.Atoi(params.Get("NumMedia"))
	var types []string
	for i := range n {
		types = append(types, params.Get("MediaContentType"+strconv.Itoa(i)))
	}
	p, err := command.ParseMessage(params.Get("Body"), types)
	return err == nil && p.Help()
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
