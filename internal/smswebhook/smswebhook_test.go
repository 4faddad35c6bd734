package smswebhook

import (
	"net/url"
	"testing"

	"github.com/twilio/twilio-go/client"
)

const token = "0123456789abcdef0123456789abcdef"

func TestSignatureMatchesTwilio(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		params url.Values
	}{
		{"no params", "https://example.com/sms", url.Values{}},
		{"sorted params", "http://127.0.0.1:8787/sms", url.Values{"To": {"+1"}, "Body": {"face match x"}, "From": {"+2"}, "MediaUrl0": {"http://x/y?z=1"}}},
		{"unicode body", "https://abc.execute-api.us-east-1.amazonaws.com/sms", url.Values{"Body": {"héllo 👋"}, "NumMedia": {"0"}}},
		{"url with query", "https://example.com/sms?stage=dev", url.Values{"Body": {"a&b=c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := Signature(token, tt.url, tt.params)
			v := client.NewRequestValidator(token)
			if !v.ValidateBody(tt.url, []byte(tt.params.Encode()), sig) {
				t.Errorf("Signature(token, %q, %v) = %q, which twilio-go's validator refuses", tt.url, tt.params, sig)
			}
			if other := client.NewRequestValidator("another-token"); other.ValidateBody(tt.url, []byte(tt.params.Encode()), sig) {
				t.Errorf("signature validates under another token")
			}
		})
	}
}
