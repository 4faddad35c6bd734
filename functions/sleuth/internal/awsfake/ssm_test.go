package awsfake_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
)

// startSSM serves fake on a loopback server and returns a real client for
// it, with retries off.
func startSSM(t *testing.T, fake *awsfake.SSM) (*ssm.Client, string) {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return ssm.NewFromConfig(awsfake.Config(srv.URL)), srv.URL
}

func TestSSMGetParameter(t *testing.T) {
	fake := awsfake.NewSSM()
	fake.RequireAccessKey(accessKeyID)
	fake.PutSecureString("/app/token", "s3cr3t")
	fake.PutSecureString("sid", "AC1")
	client, _ := startSSM(t, fake)
	ctx := t.Context()

	tests := []struct {
		name      string
		decrypt   bool
		wantValue string // "" for the ciphertext placeholder
		wantARN   string
	}{
		{"/app/token", true, "s3cr3t", "arn:aws:ssm:us-east-1:123456789012:parameter/app/token"},
		{"sid", true, "AC1", "arn:aws:ssm:us-east-1:123456789012:parameter/sid"},
		{"/app/token", false, "", "arn:aws:ssm:us-east-1:123456789012:parameter/app/token"},
	}
	var want []awsfake.GetParameterRequest
	for _, tt := range tests {
		out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(tt.name), WithDecryption: aws.Bool(tt.decrypt)})
		if err != nil {
			t.Fatalf("GetParameter(%q, %v) error = %v", tt.name, tt.decrypt, err)
		}
		want = append(want, awsfake.GetParameterRequest{Name: tt.name, WithDecryption: tt.decrypt})
		p := out.Parameter
		value := aws.ToString(p.Value)
		if tt.wantValue == "" && (value == "" || value == "s3cr3t") {
			t.Errorf("GetParameter(%q, %v) value = %q, want a placeholder for the ciphertext", tt.name, tt.decrypt, value)
		}
		if tt.wantValue != "" && value != tt.wantValue {
			t.Errorf("GetParameter(%q, %v) value = %q, want %q", tt.name, tt.decrypt, value, tt.wantValue)
		}
		if aws.ToString(p.ARN) != tt.wantARN || aws.ToString(p.Name) != tt.name || p.Type != ssmtypes.ParameterTypeSecureString {
			t.Errorf("GetParameter(%q) = %s %s %s, want %s %s SecureString", tt.name, aws.ToString(p.Name), aws.ToString(p.ARN), p.Type, tt.name, tt.wantARN)
		}
	}

	_, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/missing"), WithDecryption: aws.Bool(true)})
	var notFound *ssmtypes.ParameterNotFound
	if !errors.As(err, &notFound) {
		t.Errorf("GetParameter(/missing) error = %v, want ParameterNotFound", err)
	}
	want = append(want, awsfake.GetParameterRequest{Name: "/missing", WithDecryption: true})
	if got := fake.Requests(); !slices.Equal(got, want) {
		t.Errorf("Requests() = %+v, want %+v", got, want)
	}

	many, err := client.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"sid", "/missing", "/app/token"}, WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetParameters() error = %v", err)
	}
	var values []string
	for _, p := range many.Parameters {
		values = append(values, aws.ToString(p.Name)+"="+aws.ToString(p.Value))
	}
	if !slices.Equal(values, []string{"sid=AC1", "/app/token=s3cr3t"}) || !slices.Equal(many.InvalidParameters, []string{"/missing"}) {
		t.Errorf("GetParameters() = %q, invalid %q, want sid and /app/token, invalid /missing", values, many.InvalidParameters)
	}
	if get, gets := fake.Calls("GetParameter"), fake.Calls("GetParameters"); get != 4 || gets != 1 {
		t.Errorf("Calls() = %d GetParameter, %d GetParameters, want 4 and 1", get, gets)
	}
	if errs := fake.Errors(); len(errs) > 0 {
		t.Errorf("Errors() = %v, want none from the SDK's requests", errs)
	}
}

func TestSSMFaults(t *testing.T) {
	fake := awsfake.NewSSM()
	fake.PutSecureString("p", "v")
	client, _ := startSSM(t, fake)
	in := &ssm.GetParameterInput{Name: aws.String("p"), WithDecryption: aws.Bool(true)}
	tests := []struct {
		code       string
		wantStatus int
	}{
		{"InternalServerError", 500},
		{"ThrottlingException", 400},
		{"ServiceUnavailable", 503},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			fake.Inject("GetParameter", tt.code)
			_, err := client.GetParameter(t.Context(), in)
			if code, status := apiError(t, err); code != tt.code || status != tt.wantStatus {
				t.Errorf("GetParameter() with %s injected: error = %s %d, want %s %d", tt.code, code, status, tt.code, tt.wantStatus)
			}
			if out, err := client.GetParameter(t.Context(), in); err != nil || aws.ToString(out.Parameter.Value) != "v" {
				t.Errorf("GetParameter() after the fault = %v, want the value", err)
			}
		})
	}
}

func TestSSMRefusesMalformed(t *testing.T) {
	signed := "AWS4-HMAC-SHA256 Credential=" + accessKeyID + "/20250101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=0"
	jsonType := "application/x-amz-json-1.1"
	body := `{"Name":"p","WithDecryption":true}`
	tests := []struct {
		name        string
		method      string
		contentType string
		target      string
		auth        string
		body        string
		wantCode    string
	}{
		{"GET", http.MethodGet, jsonType, "AmazonSSM.GetParameter", signed, body, "ValidationException"},
		{"JSON 1.0", http.MethodPost, "application/x-amz-json-1.0", "AmazonSSM.GetParameter", signed, body, "ValidationException"},
		{"JSON 1.1 with parameters", http.MethodPost, jsonType + "; charset=utf-8", "AmazonSSM.GetParameter", signed, body, "ValidationException"},
		{"unsigned", http.MethodPost, jsonType, "AmazonSSM.GetParameter", "", body, "UnrecognizedClientException"},
		{"other key", http.MethodPost, jsonType, "AmazonSSM.GetParameter", strings.Replace(signed, accessKeyID, "AKIDOTHER", 1), body, "UnrecognizedClientException"},
		{"other operation", http.MethodPost, jsonType, "AmazonSSM.PutParameter", signed, body, "UnknownOperationException"},
		{"other service", http.MethodPost, jsonType, "DynamoDB_20120810.GetItem", signed, body, "UnknownOperationException"},
		{"bad JSON", http.MethodPost, jsonType, "AmazonSSM.GetParameter", signed, `{"Name":`, "SerializationException"},
	}
	fake := awsfake.NewSSM()
	fake.RequireAccessKey(accessKeyID)
	fake.PutSecureString("p", "v")
	_, endpoint := startSSM(t, fake)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, endpoint+"/", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Set("X-Amz-Target", tt.target)
			req.Header.Set("Authorization", tt.auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("error body %q is not JSON: %v", raw, err)
			}
			if resp.StatusCode != http.StatusBadRequest || e.Type != tt.wantCode || e.Message == "" {
				t.Errorf("%s: got %d %+v, want 400 %s with a message", tt.name, resp.StatusCode, e, tt.wantCode)
			}
			if errs := fake.Errors(); len(errs) != i+1 {
				t.Errorf("Errors() = %v, want %d recorded", errs, i+1)
			}
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("Requests() has %d entries, want none for malformed requests", n)
	}
}
