package deployed

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/twilio/twilio-go/client"
)

// digest returns a 64-hex-digit digest made of c.
func digest(c string) string { return strings.Repeat(c, 64)[:64] }

func b64(hexDigest string) string {
	b, _ := hex.DecodeString(hexDigest)
	return base64.StdEncoding.EncodeToString(b)
}

// fixtureState is the state of a small stack: the proxy and match Lambdas
// and the labeler, as the program deploys them.
func fixtureState(t *testing.T) *State {
	t.Helper()
	const p = "urn:pulumi:dev::crossfaas::"
	resources := []apitype.ResourceV3{
		{URN: p + "pulumi:pulumi:Stack::crossfaas-dev", Type: "pulumi:pulumi:Stack", Outputs: map[string]any{
			"endpoint":   "https://abc.execute-api.us-east-1.amazonaws.com/detect",
			"artifacts":  map[string]any{"proxy": digest("a")},
			"leakedOops": map[string]any{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:xyz"},
		}},
		{URN: p + "crossfaas:aws:Proxy$aws:lambda/function:Function::proxy-function", Type: typeLambda, Custom: true, ID: "crossfaas-dev-proxy",
			Inputs: map[string]any{"code": map[string]any{"path": "/home/me/crossfaas/dist/proxy.zip"}, "sourceCodeHash": b64(digest("a"))},
			Outputs: map[string]any{"name": "crossfaas-dev-proxy", "arn": "arn:aws:lambda:us-east-1:123456789012:function:crossfaas-dev-proxy",
				"codeSha256": b64(digest("a")), "loggingConfig": map[string]any{"logGroup": "/aws/lambda/crossfaas-dev-proxy"}}},
		{URN: p + "crossfaas:aws:Sleuth$aws:lambda/function:Function::sleuth-match-function", Type: typeLambda, Custom: true,
			Inputs:  map[string]any{"code": map[string]any{"path": "/home/me/crossfaas/dist/sleuth.zip"}, "sourceCodeHash": b64(digest("b"))},
			Outputs: map[string]any{"name": "crossfaas-dev-sleuth-match", "arn": "arn:aws:lambda:eu-west-1:123456789012:function:crossfaas-dev-sleuth-match"}},
		{URN: p + "crossfaas:gcp:Labeler$gcp:storage/bucketObject:BucketObject::labeler-source-zip", Type: typeBucketObject, Custom: true,
			Outputs: map[string]any{"name": "labeler-" + digest("c") + ".zip"}},
		{URN: p + "crossfaas:gcp:Labeler$gcp:cloudfunctionsv2/function:Function::labeler", Type: typeCloudFunction, Custom: true,
			Outputs: map[string]any{"name": "crossfaas-dev-labeler", "project": "my-project", "location": "us-central1",
				"buildConfig":   map[string]any{"source": map[string]any{"storageSource": map[string]any{"object": "labeler-" + digest("c") + ".zip"}}},
				"serviceConfig": map[string]any{"service": "projects/my-project/locations/us-central1/services/crossfaas-dev-labeler"}}},
		// A replaced function awaiting deletion is not deployed.
		{URN: p + "crossfaas:aws:Proxy$aws:lambda/function:Function::proxy-function", Type: typeLambda, Custom: true, Delete: true,
			Outputs: map[string]any{"name": "crossfaas-dev-proxy-old"}},
	}
	b, err := json.Marshal(apitype.DeploymentV3{Resources: resources})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseState(apitype.UntypedDeployment{Version: 3, Deployment: b})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFunctionsFromState(t *testing.T) {
	got := fixtureState(t).Functions("crossfaas-dev")
	want := []Function{
		{Name: "labeler", Physical: "crossfaas-dev-labeler", Cloud: CloudGCP, Artifact: "labeler", Digest: digest("c"),
			URN:       "urn:pulumi:dev::crossfaas::crossfaas:gcp:Labeler$gcp:cloudfunctionsv2/function:Function::labeler",
			TargetURN: "urn:pulumi:dev::crossfaas::crossfaas:gcp:Labeler$gcp:storage/bucketObject:BucketObject::labeler-source-zip",
			Region:    "us-central1", Project: "my-project", Service: "crossfaas-dev-labeler"},
		{Name: "proxy", Physical: "crossfaas-dev-proxy", Cloud: CloudAWS, Artifact: "proxy", Digest: digest("a"),
			URN:       "urn:pulumi:dev::crossfaas::crossfaas:aws:Proxy$aws:lambda/function:Function::proxy-function",
			TargetURN: "urn:pulumi:dev::crossfaas::crossfaas:aws:Proxy$aws:lambda/function:Function::proxy-function",
			Region:    "us-east-1", LogGroup: "/aws/lambda/crossfaas-dev-proxy"},
		{Name: "sleuth-match", Physical: "crossfaas-dev-sleuth-match", Cloud: CloudAWS, Artifact: "sleuth", Digest: digest("b"),
			URN:       "urn:pulumi:dev::crossfaas::crossfaas:aws:Sleuth$aws:lambda/function:Function::sleuth-match-function",
			TargetURN: "urn:pulumi:dev::crossfaas::crossfaas:aws:Sleuth$aws:lambda/function:Function::sleuth-match-function",
			Region:    "eu-west-1", LogGroup: "/aws/lambda/crossfaas-dev-sleuth-match"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Functions =\n%+v\nwant\n%+v", got, want)
	}
	outs := fixtureState(t).Outputs()
	if _, ok := outs["leakedOops"]; ok || outs["endpoint"] == nil {
		t.Errorf("Outputs = %v, want the endpoint and no secret output", outs)
	}
}

func TestCompare(t *testing.T) {
	st := &Stack{Name: "dev", Prefix: "crossfaas-dev", State: fixtureState(t)}
	st.Outputs = st.State.Outputs()
	built := []gobuild.Artifact{{Name: "labeler", SHA256: digest("c")}, {Name: "proxy", SHA256: digest("d")}, {Name: "sleuth", SHA256: digest("b")}, {Name: "sleuth-request", SHA256: digest("e")}}
	s := Compare(st, built)
	got := map[string]string{}
	for _, f := range s.Functions {
		got[f.Name] = f.State
	}
	want := map[string]string{"labeler": UpToDate, "proxy": Changed, "sleuth-match": UpToDate, "sleuth-request": NotDeployed}
	if len(got) != len(want) {
		t.Errorf("Compare = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Compare: %s is %q, want %q", k, got[k], v)
		}
	}
	if s.UpToDate() || s.Endpoint != "https://abc.execute-api.us-east-1.amazonaws.com/detect" {
		t.Errorf("status %+v: want not up to date, with the endpoint", s)
	}
	var out bytes.Buffer
	if err := s.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Last update: never", "proxy", "changed", "pulumi up --stack dev --target '<URN>' --target-dependents", "labeler-source-zip"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("status text lacks %q:\n%s", w, out.String())
		}
	}
}

func TestCompareDigests(t *testing.T) {
	from := []Function{{Name: "proxy", Digest: "a"}, {Name: "labeler", Digest: "b"}, {Name: "gone", Digest: "c"}}
	to := []Function{{Name: "proxy", Digest: "a"}, {Name: "labeler", Digest: "x"}, {Name: "extra", Digest: "d"}}
	got := compareDigests(from, to)
	want := []string{"extra exists only in the target", "gone is missing from the target", "labeler runs x, the source b"}
	if !slices.Equal(got, want) {
		t.Errorf("compareDigests = %q, want %q", got, want)
	}
	if got := compareDigests(from, from); len(got) != 0 {
		t.Errorf("compareDigests of equal stacks = %q", got)
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"yes", "yes\n", true},
		{"y without newline", "y", true},
		{"Y with spaces", "  Y \n", true},
		{"no", "n\n", false},
		{"empty line", "\n", false},
		{"end of input", "", false},
		{"anything else", "sure\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := confirm(strings.NewReader(tt.input), &out, "Go? ")
			if err != nil || got != tt.want {
				t.Errorf("confirm(%q) = %v, %v; want %v", tt.input, got, err, tt.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("imageUri") {
		case "gs://b/cat.jpg":
			w.Write([]byte(`{"imageUri":"gs://b/cat.jpg","defaultImage":false,"engine":"cloud-vision","labels":[{"description":"Cat","score":0.975}]}`))
		case "bad":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"imageUri: not an http(s) or gs:// URL"}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`<html>Forbidden</html>`))
		}
	}))
	defer srv.Close()
	tests := []struct {
		image, want string
		status      int
	}{
		{"gs://b/cat.jpg", "97.5%  Cat", 200},
		{"bad", "HTTP 400: imageUri: not an http(s) or gs:// URL", 400},
		{"other", "HTTP 403: <html>Forbidden</html>", 403},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			res, err := Detect(context.Background(), srv.Client(), srv.URL+"/detect", tt.image)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res.Write(&out)
			if res.Status != tt.status || !strings.Contains(out.String(), tt.want) {
				t.Errorf("Detect(%q) = %d %q, want %d %q", tt.image, res.Status, out.String(), tt.status, tt.want)
			}
		})
	}
	if _, err := Detect(context.Background(), srv.Client(), "ftp://x/detect", ""); err == nil {
		t.Errorf("Detect accepted an ftp endpoint")
	}
}

func TestSMS(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got = r.PostForm
		params := map[string]string{}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		v := client.NewRequestValidator(token)
		if !v.Validate("http://"+r.Host+r.URL.Path, params, r.Header.Get("X-Twilio-Signature")) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Write([]byte(`<Response><Message>Got it - creating collection test...</Message></Response>`))
	}))
	defer srv.Close()
	res, err := SMS(context.Background(), srv.Client(), srv.URL+"/sms", "AC0123", token, "+15551234567", "+15557654321", "face addcol test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Messages, []string{"Got it - creating collection test..."}) || !strings.HasPrefix(res.MessageSid, "SM") || got.Get("MessageSid") != res.MessageSid || got.Get("Body") != "face addcol test" {
		t.Errorf("SMS = %+v; the webhook got %v", res, got)
	}
	if _, err := SMS(context.Background(), srv.Client(), srv.URL+"/sms", "AC0123", "wrong-token", "+15551234567", "+15557654321", "help"); err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("SMS with the wrong token = %v, want the 403", err)
	}
	for _, bad := range [][3]string{{"5551234567", "+15557654321", "help"}, {"+15551234567", "+15557654321", "  "}} {
		if _, err := SMS(context.Background(), srv.Client(), srv.URL+"/sms", "AC0123", token, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("SMS(%q) succeeded", bad)
		}
	}
}
