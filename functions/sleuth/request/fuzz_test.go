package request

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"net/url"
	"testing"
)

func FuzzDecodeWebhook(f *testing.F) {
	f.Add(encodeForm(smsParams("face addcol celebs")), true, "application/x-www-form-urlencoded; charset=UTF-8")
	f.Add(encodeForm(smsParams("face addimg celebs mel gibson", "image/jpeg")), false, "application/x-www-form-urlencoded")
	f.Add(encodeForm(smsParams("face match celebs", "image/png", "image/gif")), true, "Application/X-WWW-Form-Urlencoded")
	f.Add("Body=a&Body=b", false, "application/x-www-form-urlencoded")
	f.Add("Body=%zz;x", false, "application/x-www-form-urlencoded")
	f.Add("From=%2B1&To=%2B2&MessageSid=SM1&NumMedia=-1", false, "application/x-www-form-urlencoded")
	f.Add("From=%2B1&To=%2B2&MessageSid=SM1&NumMedia=1&MediaContentType0=image/jpeg", false, "application/x-www-form-urlencoded")
	f.Add(`{"Body":"help"}`, false, "application/json")
	f.Fuzz(func(t *testing.T, form string, encode bool, contentType string) {
		ev := rawEvent(form)
		ev.Headers["content-type"] = contentType
		if !encode {
			ev.Body, ev.IsBase64Encoded = form, false
		}
		params, err := decodeWebhook(ev)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status < 400 || he.status > 499 || he.msg == "" {
				t.Fatalf("decodeWebhook(%q) error = %#v, want an *httpError with a 4xx status", form, err)
			}
			return
		}
		// What was decoded encodes back to the same parameters.
		back, err := url.ParseQuery(encodeForm(params))
		if err != nil {
			t.Fatalf("re-encoded form %q does not parse: %v", encodeForm(params), err)
		}
		for name, value := range params {
			if got := back[name]; len(got) != 1 || got[0] != value {
				t.Fatalf("parameter %q = %q decodes back as %q", name, value, got)
			}
		}

		// Signed by Twilio, any such form gets an answer: TwiML, or a 400 for
		// what is not an SMS webhook; never a 5xx, and at most one job.
		h, pub, _ := newTestHandler(t, Config{})
		ev.Headers["x-twilio-signature"] = sign(testToken, testURL, params)
		resp, err := h.Handle(context.Background(), ev)
		if err != nil {
			t.Fatalf("Handle() error = %v", err)
		}
		switch resp.StatusCode {
		case 200:
			twimlMessage(t, resp)
		case 400:
			if _, err := parseInbound(params); err == nil {
				t.Fatalf("Handle(%q) = 400 %q, but the SMS parses", form, resp.Body)
			}
		default:
			t.Fatalf("Handle(%q) = %d %q, want 200 or 400", form, resp.StatusCode, resp.Body)
		}
		got := pub.published()
		if len(got) > 1 {
			t.Fatalf("Handle(%q) published %d jobs", form, len(got))
		}
		if len(got) == 1 {
			job := got[0].job
			if job.From != params["From"] || job.To != params["To"] || job.MessageSid != params["MessageSid"] {
				t.Fatalf("job %+v does not carry the SMS %v", job, params)
			}
			if job.Command == "" || job.Collection == "" {
				t.Fatalf("job %+v lacks its command", job)
			}
		}

		// Any change to a signed parameter is refused.
		if len(params) > 0 && len(form) < maxBodyBytes/2 {
			tampered := maps.Clone(params)
			for name := range tampered {
				tampered[name] += "x"
				break
			}
			ev.Body = base64.StdEncoding.EncodeToString([]byte(encodeForm(tampered)))
			ev.IsBase64Encoded = true
			resp, _ := h.Handle(context.Background(), ev)
			if resp.StatusCode != 403 {
				t.Fatalf("Handle(tampered %v) = %d, want 403", tampered, resp.StatusCode)
			}
		}
	})
}
