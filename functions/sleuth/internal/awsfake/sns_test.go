package awsfake_test

import (
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
)

const (
	topic = "arn:aws:sns:us-east-1:123456789012:topic"
	// accessKeyID is the key awsfake.Config signs with.
	accessKeyID = "AKIDFAKE"
)

// startSNS serves fake on a loopback server and returns a real client for
// it, with retries off.
func startSNS(t *testing.T, fake *awsfake.SNS) (*sns.Client, string) {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return sns.NewFromConfig(awsfake.Config(srv.URL)), srv.URL
}

// apiError returns the code and HTTP status of err, an SDK error.
func apiError(t *testing.T, err error) (string, int) {
	t.Helper()
	var api smithy.APIError
	var resp *awshttp.ResponseError
	if !errors.As(err, &api) || !errors.As(err, &resp) {
		t.Fatalf("error = %v, want an API error with an HTTP response", err)
	}
	return api.ErrorCode(), resp.HTTPStatusCode()
}

func TestSNSPublish(t *testing.T) {
	fake := awsfake.NewSNS()
	fake.RequireAccessKey(accessKeyID)
	fake.CreateTopic(topic)
	client, _ := startSNS(t, fake)
	ctx := t.Context()

	out, err := client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(topic),
		Message:  aws.String(`{"command":"match"} & <more>`),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"command": {DataType: aws.String("String"), StringValue: aws.String("match")},
			"step":    {DataType: aws.String("String"), StringValue: aws.String("reply")},
		},
	})
	if err != nil {
		t.Fatalf("Publish() error = %v", err)
	}
	if _, err := client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("plain")}); err != nil {
		t.Fatalf("Publish(no attributes) error = %v", err)
	}
	got := fake.Published()
	if len(got) != 2 {
		t.Fatalf("Published() has %d messages, want 2", len(got))
	}
	if got[0].TopicARN != topic || got[0].Message != `{"command":"match"} & <more>` || got[0].MessageID != aws.ToString(out.MessageId) {
		t.Errorf("Published()[0] = %+v, want the message to %s with id %q", got[0], topic, aws.ToString(out.MessageId))
	}
	if want := map[string]string{"command": "match", "step": "reply"}; !maps.Equal(got[0].Attributes, want) {
		t.Errorf("Published()[0].Attributes = %v, want %v", got[0].Attributes, want)
	}
	if got[1].Attributes == nil || len(got[1].Attributes) != 0 {
		t.Errorf("Published()[1].Attributes = %#v, want empty, not nil", got[1].Attributes)
	}
	if got[0].MessageID == got[1].MessageID {
		t.Errorf("two messages share the id %q", got[0].MessageID)
	}
	got[0].Attributes["command"] = "changed"
	if fake.Published()[0].Attributes["command"] != "match" {
		t.Errorf("changing what Published() returned changed the fake's record")
	}

	tests := []struct {
		name       string
		in         *sns.PublishInput
		wantCode   string
		wantStatus int
	}{
		{"unknown topic", &sns.PublishInput{TopicArn: aws.String(topic + "-x"), Message: aws.String("m")}, "NotFound", 404},
		{"no topic", &sns.PublishInput{Message: aws.String("m")}, "InvalidParameter", 400},
		{"empty message", &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("")}, "InvalidParameter", 400},
		{"number attribute", &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m"),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{"n": {DataType: aws.String("Number"), StringValue: aws.String("1")}}},
			"InvalidParameter", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.Publish(ctx, tt.in)
			if code, status := apiError(t, err); code != tt.wantCode || status != tt.wantStatus {
				t.Errorf("Publish(%s) error = %s %d, want %s %d", tt.name, code, status, tt.wantCode, tt.wantStatus)
			}
		})
	}
	if n := len(fake.Published()); n != 2 {
		t.Errorf("Published() has %d messages after the refusals, want 2", n)
	}
	if n := fake.Calls(); n != 2+len(tests) {
		t.Errorf("Calls() = %d, want %d", n, 2+len(tests))
	}
	if errs := fake.Errors(); len(errs) > 0 {
		t.Errorf("Errors() = %v, want none from the SDK's requests", errs)
	}

	fake.AllTopicsExist()
	if _, err := client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic + "-x"), Message: aws.String("m")}); err != nil {
		t.Errorf("Publish(any topic) after AllTopicsExist() error = %v", err)
	}
}

func TestSNSFaults(t *testing.T) {
	tests := []struct {
		code       string
		wantStatus int
		is         func(error) bool
	}{
		{"InternalError", 500, func(err error) bool { var e *snstypes.InternalErrorException; return errors.As(err, &e) }},
		{"AuthorizationError", 403, func(err error) bool { var e *snstypes.AuthorizationErrorException; return errors.As(err, &e) }},
		{"NotFound", 404, func(err error) bool { var e *snstypes.NotFoundException; return errors.As(err, &e) }},
		// The SDK models Throttled for other operations, not Publish.
		{"Throttled", 429, func(error) bool { return true }},
		{"ServiceUnavailable", 503, func(error) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			fake := awsfake.NewSNS()
			fake.CreateTopic(topic)
			client, _ := startSNS(t, fake)
			in := &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")}
			fake.Inject("Publish", tt.code)
			_, err := client.Publish(t.Context(), in)
			if code, status := apiError(t, err); code != tt.code || status != tt.wantStatus || !tt.is(err) {
				t.Errorf("Publish() with %s injected: error = %v (%s %d), want %s %d", tt.code, err, code, status, tt.code, tt.wantStatus)
			}
			if _, err := client.Publish(t.Context(), in); err != nil {
				t.Errorf("Publish() after the fault error = %v, want it consumed", err)
			}
			fake.Inject("Publish", tt.code)
			fake.Clear("Publish")
			if _, err := client.Publish(t.Context(), in); err != nil {
				t.Errorf("Publish() after Clear() error = %v", err)
			}
			if n := len(fake.Published()); n != 2 {
				t.Errorf("Published() has %d messages, want 2", n)
			}
		})
	}
}

func TestSNSRefusesMalformed(t *testing.T) {
	signed := "AWS4-HMAC-SHA256 Credential=" + accessKeyID + "/20250101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0"
	form := "application/x-www-form-urlencoded; charset=utf-8"
	publish := url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {topic}, "Message": {"m"}}
	with := func(k, v string) string {
		vals := url.Values{}
		maps.Copy(vals, publish)
		vals.Set(k, v)
		return vals.Encode()
	}
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		auth        string
		body        string
		wantStatus  int
		wantCode    string
		wantMessage string // a substring
	}{
		{"GET", http.MethodGet, "/", form, signed, publish.Encode(), 400, "InvalidParameter", "want POST /"},
		{"other path", http.MethodPost, "/x", form, signed, publish.Encode(), 400, "InvalidParameter", "want POST /"},
		{"JSON", http.MethodPost, "/", "application/x-amz-json-1.0", signed, publish.Encode(), 400, "InvalidParameter", "content type"},
		{"unsigned", http.MethodPost, "/", form, "", publish.Encode(), 403, "InvalidClientTokenId", "not signed"},
		{"other key", http.MethodPost, "/", form, strings.Replace(signed, accessKeyID, "AKIDOTHER", 1), publish.Encode(), 403, "InvalidClientTokenId", accessKeyID},
		{"bad form", http.MethodPost, "/", form, signed, "Action=%zz", 400, "InvalidParameter", "not a form"},
		{"old version", http.MethodPost, "/", form, signed, with("Version", "2009-01-01"), 400, "InvalidParameter", "API version"},
		{"other action", http.MethodPost, "/", form, signed, with("Action", "Subscribe"), 400, "InvalidAction", "Subscribe"},
		{"escaped message", http.MethodPost, "/", form, signed, with("Action", `<Publish a="1">&amp;`), 400, "InvalidAction", `<Publish a="1">&amp;`},
	}
	fake := awsfake.NewSNS()
	fake.RequireAccessKey(accessKeyID)
	fake.CreateTopic(topic)
	_, endpoint := startSNS(t, fake)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, endpoint+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Set("Authorization", tt.auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Error struct{ Type, Code, Message string }
			}
			if err := xml.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q is not XML: %v", body, err)
			}
			if resp.StatusCode != tt.wantStatus || e.Error.Code != tt.wantCode || e.Error.Type != "Sender" || !strings.Contains(e.Error.Message, tt.wantMessage) {
				t.Errorf("%s: got %d %+v, want %d %s with a message containing %q", tt.name, resp.StatusCode, e.Error, tt.wantStatus, tt.wantCode, tt.wantMessage)
			}
			if errs := fake.Errors(); len(errs) != i+1 {
				t.Errorf("Errors() = %v, want %d recorded", errs, i+1)
			}
		})
	}
	if n, calls := len(fake.Published()), fake.Calls(); n != 0 || calls != 0 {
		t.Errorf("the fake published %d messages and counted %d calls, want none", n, calls)
	}
}
