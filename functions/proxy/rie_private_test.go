package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// privateEnv is the environment the stack gives the proxy for a private
// labeler at labelerURL through g, with the sentinel role credentials
// Lambda would set; extra overrides it.
func privateEnv(g *googleauthfake.Google, labelerURL string, extra map[string]string) map[string]string {
	env := map[string]string{
		EnvLabelerURL:           labelerURL,
		EnvCredentialConfig:     string(g.CredentialConfig().JSON()),
		"AWS_ACCESS_KEY_ID":     lambdaIdentity.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": lambdaIdentity.SecretAccessKey,
		"AWS_SESSION_TOKEN":     lambdaIdentity.SessionToken,
		"AWS_REGION":            "us-east-1",
		"AWS_LAMBDA_LOG_FORMAT": "JSON",
	}
	maps.Copy(env, extra)
	return env
}

// startPrivateProxy runs the real bootstrap under the emulator for a
// private labeler through g.
func startPrivateProxy(t testing.TB, g *googleauthfake.Google, labelerURL string, extra map[string]string) *lambdatest.Function {
	t.Helper()
	return lambdatest.Start(t, lambdatest.Options{Package: bootstrapPackage, Env: privateEnv(g, labelerURL, extra)})
}

func TestBootstrapUnderRIEPrivateLabeler(t *testing.T) {
	g := startGoogle(t, nil)
	labeler := newPrivateLabeler(t, g, callerAccount, jsonReply(200, labelsJSON))
	fn := startPrivateProxy(t, g, labeler.URL, nil)

	const calls = 200
	var bodies strings.Builder
	for i := range calls {
		resp := fn.InvokeAPIGatewayV2(t, lambdatest.HTTPEvent("GET", "/detect", "imageUri=gs://b/o.jpg", nil, ""))
		if resp.StatusCode != 200 || resp.Body != labelsJSON {
			t.Fatalf("call %d: %d %s (front: %v)", i, resp.StatusCode, resp.Body, g.Rejections())
		}
		bodies.WriteString(resp.Body)
	}
	if n := g.Exchanges(); n != 1 {
		t.Errorf("%d invocations made %d token exchanges, want 1", calls, n)
	}
	if n := g.IDTokens(); n != 1 {
		t.Errorf("%d invocations got %d ID tokens, want 1", calls, n)
	}
	if n := labeler.newConn.Load(); n != 1 {
		t.Errorf("%d invocations opened %d connections to the labeler, want 1", calls, n)
	}
	if !fn.WaitOutput(`"status":200`, outputWait) {
		t.Fatalf("no log line in:\n%s", fn.Output())
	}
	assertNoSecret(t, g, "the function's output", fn.Output())
	assertNoSecret(t, g, "the responses", bodies.String())
}

func TestBootstrapUnderRIEPrivateLabelerFailures(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		stopSTS   bool
		wantError string
	}{
		{name: "sts down", stopSTS: true, wantError: "Security Token Service did not grant the exchange (unreachable)"},
		{name: "wrong aws secret", env: map[string]string{"AWS_SECRET_ACCESS_KEY": "not-the-role-secret"}, wantError: "Security Token Service did not grant the exchange (HTTP 400)"},
		{name: "role of another region", env: map[string]string{"AWS_REGION": "eu-west-1"}, wantError: "Security Token Service did not grant the exchange (HTTP 400)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGoogle(t, nil)
			labeler := newPrivateLabeler(t, g, callerAccount, jsonReply(200, labelsJSON))
			if tt.stopSTS {
				g.StopSTS()
			}
			fn := startPrivateProxy(t, g, labeler.URL, tt.env)
			resp := fn.InvokeAPIGatewayV2(t, lambdatest.HTTPEvent("GET", "/detect", "imageUri=gs://b/o.jpg", nil, ""))
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status = %d (%s), want 502", resp.StatusCode, resp.Body)
			}
			if msg := errorMessage(t, resp); !strings.Contains(msg, tt.wantError) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.wantError)
			}
			if n := len(labeler.calls()); n != 0 {
				t.Errorf("the labeler served %d calls, want none", n)
			}
			if !fn.WaitOutput(`"status":502`, outputWait) {
				t.Fatalf("no log line of the 502 in:\n%s", fn.Output())
			}
			assertNoSecret(t, g, "the function's output", fn.Output())
			assertNoSecret(t, g, "the response", resp.Body)
		})
	}
}

func TestBootstrapFailsFastWithBadCredentialConfig(t *testing.T) {
	g := startGoogle(t, nil)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "not json", env: map[string]string{EnvCredentialConfig: "{"}, want: EnvCredentialConfig},
		{name: "service account key", env: map[string]string{EnvCredentialConfig: `{"type":"service_account"}`}, want: "external_account"},
		{name: "no region", env: map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}, want: "AWS_REGION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := startPrivateProxy(t, g, "http://127.0.0.1:1/", tt.env)
			_, err := fn.Invoke(context.Background(), lambdatest.HTTPEvent("GET", "/detect", "", nil, ""))
			var fnErr *lambdatest.FunctionError
			if !errors.As(err, &fnErr) || fnErr.Type != "Runtime.ExitError" {
				t.Fatalf("Invoke: error = %v, want an init failure", err)
			}
			if !strings.Contains(fnErr.Message, tt.want) {
				t.Errorf("init failure output = %q, want it to contain %q", fnErr.Message, tt.want)
			}
		})
	}
	if g.Exchanges() != 0 || len(g.SubjectTokens()) != 0 {
		t.Error("a failed cold start reached Google's STS")
	}
}

// decodeResponse unmarshals an emulator payload into an API Gateway
// response.
func decodeResponse(payload []byte) (events.APIGatewayV2HTTPResponse, error) {
	var resp events.APIGatewayV2HTTPResponse
	err := json.Unmarshal(payload, &resp)
	return resp, err
}
