package deployed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/crossfaas/crossfaas/functions/labeler"
	"github.com/crossfaas/crossfaas/internal/smswebhook"
)

// maxDetectBody is the most of /detect's answer Detect reads; the proxy
// relays at most 1 MiB.
const maxDetectBody = 2 << 20

// DetectResult is the answer of GET /detect.
type DetectResult struct {
	URL    string
	Status int
	// Body is the raw answer; Labels is its decoded form when the call
	// succeeded, Error its error message when it did not.
	Body   []byte
	Labels *labeler.Response
	Error  string
}

// Detect calls GET endpoint?imageUri=image (without imageUri when image is
// "": the labeler labels its default image) with client.
func Detect(ctx context.Context, client smswebhook.Doer, endpoint, image string) (*DetectResult, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("detect: endpoint %q is not an http(s) URL", endpoint)
	}
	if image != "" {
		q := u.Query()
		q.Set("imageUri", image)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("detect: GET %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDetectBody))
	if err != nil {
		return nil, fmt.Errorf("detect: reading the answer: %w", err)
	}
	res := &DetectResult{URL: u.String(), Status: resp.StatusCode, Body: body}
	if resp.StatusCode/100 == 2 {
		var labels labeler.Response
		if err := json.Unmarshal(body, &labels); err != nil || labels.Annotation == nil {
			res.Error = fmt.Sprintf("the answer is not the labeler's JSON: %s", clip(string(body), 200))
		} else {
			res.Labels = &labels
		}
		return res, nil
	}
	var e labeler.ErrorResponse
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		res.Error = e.Error
	} else {
		res.Error = clip(strings.TrimSpace(string(body)), 200)
	}
	return res, nil
}

// Write prints the labels, or the error, for a person.
func (r *DetectResult) Write(w io.Writer) {
	if r.Labels == nil {
		fmt.Fprintf(w, "HTTP %d: %s\n", r.Status, r.Error)
		return
	}
	image := r.Labels.ImageURI
	if r.Labels.DefaultImage {
		image += " (the labeler's default image)"
	}
	fmt.Fprintf(w, "%s (%s)\n", image, r.Labels.Engine)
	for _, l := range r.Labels.Labels {
		fmt.Fprintf(w, "  %5.1f%%  %s\n", 100*l.Score, l.Description)
	}
	if len(r.Labels.Labels) == 0 {
		fmt.Fprintln(w, "  no labels")
	}
	if s := r.Labels.SafeSearch; s != nil {
		fmt.Fprintf(w, "SafeSearch: adult %s, violence %s, racy %s\n", s.Adult, s.Violence, s.Racy)
	}
}

// e164 is an E.164 phone number.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// SMSResult is the webhook's answer to a posted SMS.
type SMSResult struct {
	MessageSid string
	Status     int
	// Messages are the TwiML <Message>s Twilio would text back at once.
	Messages []string
	Body     []byte
}

// SMS posts an inbound-SMS webhook for body from from to to, signed with
// authToken exactly as Twilio signs, to webhookURL.
func SMS(ctx context.Context, client smswebhook.Doer, webhookURL, accountSID, authToken, from, to, body string) (*SMSResult, error) {
	for _, n := range []string{from, to} {
		if !e164.MatchString(n) {
			return nil, fmt.Errorf("sms: %q is not an E.164 phone number such as +15551234567", n)
		}
	}
	if strings.TrimSpace(body) == "" {
		return nil, fmt.Errorf("sms: the message is empty: give the text, e.g. \"face addcol test\"")
	}
	sid := smswebhook.NewSid("SM")
	params := smswebhook.Params(smswebhook.Message{AccountSID: accountSID, MessageSid: sid, From: from, To: to, Body: body})
	status, answer, err := smswebhook.Post(ctx, client, webhookURL, authToken, params)
	if err != nil {
		return nil, fmt.Errorf("sms: %w", err)
	}
	res := &SMSResult{MessageSid: sid, Status: status, Body: answer}
	if status/100 != 2 {
		return res, fmt.Errorf("sms: the webhook answered HTTP %d: %s", status, clip(strings.TrimSpace(string(answer)), 200))
	}
	if res.Messages, err = smswebhook.Messages(answer); err != nil {
		return res, fmt.Errorf("sms: the webhook's answer is not TwiML: %w", err)
	}
	return res, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
