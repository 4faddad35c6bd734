// Package smswebhook sends an inbound-SMS webhook exactly as Twilio does:
// the form Twilio posts for a message to one of your numbers, signed with
// X-Twilio-Signature under the account's auth token, and reads the TwiML
// answer. The phone simulator of `crossfaas dev` and `crossfaas invoke sms`
// use it to reach the bot's real signature check.
package smswebhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// MaxAnswer is the most of a webhook's answer Post reads.
const MaxAnswer = 64 << 10

// Message is an inbound SMS as the webhook describes it.
type Message struct {
	AccountSID string
	// MessageSid is Twilio's id of the message: "SM" (or "MM" with media)
	// and 32 hex digits; NewSid makes one.
	MessageSid string
	// From is the sender's number and To the Twilio number, both E.164.
	From, To string
	Body     string
}

// Params returns the form Twilio posts for m, without media.
func Params(m Message) url.Values {
	return url.Values{
		"AccountSid":    {m.AccountSID},
		"ApiVersion":    {"2010-04-01"},
		"Body":          {m.Body},
		"From":          {m.From},
		"FromCity":      {"SAN FRANCISCO"},
		"FromCountry":   {"US"},
		"FromState":     {"CA"},
		"FromZip":       {"94105"},
		"MessageSid":    {m.MessageSid},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(max(1, (len(m.Body)+152)/153))},
		"SmsMessageSid": {m.MessageSid},
		"SmsSid":        {m.MessageSid},
		"SmsStatus":     {"received"},
		"To":            {m.To},
		"ToCity":        {""},
		"ToCountry":     {"US"},
		"ToState":       {""},
		"ToZip":         {""},
	}
}

// Signature returns the X-Twilio-Signature Twilio sends with a form
// webhook: base64(HMAC-SHA1(authToken, url + every parameter's name and
// value, sorted by name)). Only each name's first value counts, as in
// Twilio's own validators.
func Signature(authToken, webhookURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(webhookURL)
	for _, k := range keys {
		b.WriteString(k)
		if len(params[k]) > 0 {
			b.WriteString(params[k][0])
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Doer sends HTTP requests; *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Post posts params to webhookURL with the headers Twilio sends, signed
// with authToken, and returns the answer's status and (at most MaxAnswer
// bytes of) body.
func Post(ctx context.Context, client Doer, webhookURL, authToken string, params url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, strings.NewReader(params.Encode()))
	if err != nil {
		return 0, nil, fmt.Errorf("post webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("X-Twilio-Signature", Signature(authToken, webhookURL, params))
	req.Header.Set("I-Twilio-Idempotency-Token", newUUID())
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("post webhook: reading the answer: %w", err)
	}
	return resp.StatusCode, answer, nil
}

// Messages returns the text of every <Message> in a TwiML document; an
// empty answer (or an empty <Response/>) has none.
func Messages(doc []byte) ([]string, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	var resp struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []struct {
			Text string `xml:",chardata"`
			Body string `xml:"Body"`
		} `xml:"Message"`
	}
	if err := xml.Unmarshal(doc, &resp); err != nil {
		return nil, fmt.Errorf("twiml messages: %w", err)
	}
	var out []string
	for _, m := range resp.Messages {
		text := strings.TrimSpace(m.Text)
		if text == "" {
			text = strings.TrimSpace(m.Body)
		}
		if text != "" {
			out = append(out, text)
		}
	}
	return out, nil
}

// NewSid returns a Twilio-shaped id: prefix and 32 random hex digits.
func NewSid(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
