package logs

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/logs/logsfake"
)

// noCloudCredentials empties every place the AWS SDK and Google's auth
// library look for credentials, and points both metadata services (EC2's
// IMDS, Google's metadata server) at a closed loopback port, as on a
// laptop where nothing answers there.
func noCloudCredentials(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"GOOGLE_APPLICATION_CREDENTIALS", EnvLoggingEndpoint} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", dir)
	t.Setenv("CLOUDSDK_CONFIG", filepath.Join(dir, "gcloud"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "aws-credentials"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+closed)
	t.Setenv("GCE_METADATA_HOST", closed)
	t.Setenv("GCE_METADATA_IP", closed)
}

// TestFollowWithoutCredentialsFailsFast: `crossfaas logs -t` with no
// credentials for a cloud stops at once with a message naming the cloud
// and what to set, instead of retrying forever; the other cloud's
// credentials are not asked for when it has no function to read.
func TestFollowWithoutCredentialsFailsFast(t *testing.T) {
	cw := httptest.NewServer(logsfake.NewCloudWatchLogs())
	t.Cleanup(cw.Close)
	tests := []struct {
		name   string
		target Target
		want   []string
	}{
		{"aws", Target{Function: "proxy", Cloud: "aws", Group: "/aws/lambda/crossfaas-dev-proxy", Region: "us-east-1"},
			[]string{"no AWS credentials", "proxy", "aws configure", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"}},
		{"gcp", Target{Function: "labeler", Cloud: "gcp", Service: "crossfaas-dev-labeler", Project: "my-project"},
			[]string{"no Google Cloud credentials", "labeler", "gcloud auth application-default login", "GOOGLE_APPLICATION_CREDENTIALS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noCloudCredentials(t)
			t.Setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", cw.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			clk := &clock{now: base}
			clk.onSleep = func(time.Duration) {
				if len(clk.sleeps) >= 10 {
					cancel() // retrying: the bug; stop it
				}
			}
			var stderr bytes.Buffer
			sources, closer, err := NewSources(ctx, []Target{tt.target})
			if err == nil {
				defer closer.Close()
				err = Stream(ctx, Options{Sources: sources, Since: time.Minute, Follow: true, Write: TextWriter(&bytes.Buffer{}), Stderr: &stderr, Now: clk.Now, Sleep: clk.Sleep})
			}
			if err == nil {
				t.Fatalf("following without %s credentials ended without an error after %d retries; stderr:\n%s", tt.name, len(clk.sleeps), &stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %q, want it to name %q", err, want)
				}
			}
			if len(clk.sleeps) > 0 || stderr.Len() > 0 {
				t.Errorf("missing credentials were retried %d times: %s", len(clk.sleeps), &stderr)
			}
		})
	}
}

// TestFollowEndsWhenCredentialsExpireMidTail: credentials that worked at
// the start and cannot be refreshed later (their source is gone, a network
// error) end the tail with the credentials message, not endless retries.
func TestFollowEndsWhenCredentialsExpireMidTail(t *testing.T) {
	noCloudCredentials(t)
	f := logsfake.NewCloudWatchLogs()
	f.CreateGroup("/aws/lambda/crossfaas-dev-proxy")
	cw := httptest.NewServer(f)
	t.Cleanup(cw.Close)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", cw.URL)
	expires := time.Now().Add(2 * time.Second)
	// The container credentials endpoint (as on ECS), answering with
	// credentials that expire in 2 s.
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"AccessKeyId":"AKIDSHORT","SecretAccessKey":"s","Token":"t","Expiration":%q}`, expires.UTC().Format(time.RFC3339))
	}))
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.URL+"/creds")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sources, closer, err := NewSources(ctx, []Target{{Function: "proxy", Cloud: "aws", Group: "/aws/lambda/crossfaas-dev-proxy", Region: "us-east-1"}})
	if err != nil {
		t.Fatalf("NewSources with working credentials: %v", err)
	}
	defer closer.Close()
	clk := &clock{now: base}
	clk.onSleep = func(time.Duration) {
		if len(clk.sleeps) == 1 {
			creds.Close() // the source of credentials is gone
			time.Sleep(time.Until(expires) + 100*time.Millisecond)
		}
		if len(clk.sleeps) >= 10 {
			cancel()
		}
	}
	var stderr bytes.Buffer
	err = Stream(ctx, Options{Sources: sources, Since: time.Minute, Follow: true, Write: TextWriter(&bytes.Buffer{}), Stderr: &stderr, Now: clk.Now, Sleep: clk.Sleep})
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Fatalf("Stream after the credentials expired = %v after %d sleeps, want the credentials message; stderr:\n%s", err, len(clk.sleeps), &stderr)
	}
	if len(clk.sleeps) != 1 || stderr.Len() > 0 {
		t.Errorf("the lost credentials were retried: %d sleeps, stderr:\n%s", len(clk.sleeps), &stderr)
	}
}
