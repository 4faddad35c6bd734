package awsenv_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv/awsenvtest"
	"github.com/crossfaas/crossfaas/internal/lambdaenv"
)

// awsVars are the variables that change what lambdaenv.AWSConfig or
// config.LoadDefaultConfig build.
var awsVars = []string{
	"AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_ACCOUNT_ID",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_SSM", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EC2_METADATA_DISABLED", "AWS_EXECUTION_ENV",
}

// setLambdaEnv replaces the AWS variables of the environment with vars for
// the rest of the test (which must not be parallel). Shared config files
// point nowhere and instance metadata is off, so config.LoadDefaultConfig
// sees the same environment.
func setLambdaEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, k := range awsVars {
		t.Setenv(k, "") // restores the old value at cleanup
		os.Unsetenv(k)  // the SDK tells a set but empty variable from an unset one
	}
	missing := t.TempDir() + "/no-such-file"
	t.Setenv("AWS_CONFIG_FILE", missing)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// lambdaVars are the variables the Lambda runtime sets.
func lambdaVars(extra map[string]string) map[string]string {
	vars := map[string]string{
		"AWS_REGION":            "eu-west-3",
		"AWS_ACCESS_KEY_ID":     "ASIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_SESSION_TOKEN":     "session-token",
		"AWS_EXECUTION_ENV":     "AWS_Lambda_provided.al2023",
	}
	for k, v := range extra {
		if v == "" {
			delete(vars, k)
			continue
		}
		vars[k] = v
	}
	return vars
}

func TestLambdaConfig(t *testing.T) {
	tests := []struct {
		name      string
		vars      map[string]string
		region    string
		creds     aws.Credentials
		errSubstr string // non-empty: AWSConfig must fail with it
	}{
		{
			name:   "lambda environment",
			vars:   lambdaVars(nil),
			region: "eu-west-3",
			creds:  aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token", Source: "StaticCredentials"},
		},
		{
			name:   "default region and older key names, no session token",
			vars:   lambdaVars(map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "", "AWS_ACCESS_KEY": "AKIDOLD", "AWS_SECRET_ACCESS_KEY": "", "AWS_SECRET_KEY": "old-secret", "AWS_SESSION_TOKEN": ""}),
			region: "us-west-2",
			creds:  aws.Credentials{AccessKeyID: "AKIDOLD", SecretAccessKey: "old-secret", Source: "StaticCredentials"},
		},
		{
			name:   "account id",
			vars:   lambdaVars(map[string]string{"AWS_ACCOUNT_ID": "123456789012"}),
			region: "eu-west-3",
			creds:  aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token", Source: "StaticCredentials", AccountID: "123456789012"},
		},
		{name: "no region", vars: lambdaVars(map[string]string{"AWS_REGION": ""}), errSubstr: "AWS_REGION is not set"},
		{name: "no key id", vars: lambdaVars(map[string]string{"AWS_ACCESS_KEY_ID": ""}), errSubstr: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"},
		{name: "no secret", vars: lambdaVars(map[string]string{"AWS_SECRET_ACCESS_KEY": ""}), errSubstr: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"},
		{name: "ignore endpoints not a boolean", vars: lambdaVars(map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "yes"}), errSubstr: `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="yes": want true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setLambdaEnv(t, tt.vars)
			cfg, err := lambdaenv.AWSConfig()
			if tt.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("AWSConfig() error = %v, want one containing %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatalf("AWSConfig() error = %v", err)
			}
			if cfg.Region != tt.region {
				t.Errorf("AWSConfig().Region = %q, want %q", cfg.Region, tt.region)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatalf("Credentials.Retrieve() error = %v", err)
			}
			if creds != tt.creds {
				t.Errorf("Credentials.Retrieve() = %+v, want %+v", creds, tt.creds)
			}
			if got, want := cfg.RuntimeEnvironment.EnvironmentIdentifier, aws.ExecutionEnvironmentID(tt.vars["AWS_EXECUTION_ENV"]); got != want {
				t.Errorf("AWSConfig().RuntimeEnvironment.EnvironmentIdentifier = %q, want %q", got, want)
			}
		})
	}
}

// TestLambdaConfigEndpoints checks that clients built from lambdaenv.AWSConfig
// resolve their endpoints from the SDK's standard variables as clients
// built from config.LoadDefaultConfig do.
func TestLambdaConfigEndpoints(t *testing.T) {
	const (
		global = "http://127.0.0.1:1/global"
		ssmURL = "http://127.0.0.1:1/ssm"
		snsURL = "http://127.0.0.1:1/sns"
	)
	tests := []struct {
		name     string
		vars     map[string]string
		ssm, sns string // the expected base endpoints, "" for none (the service's own)
	}{
		{"none", nil, "", ""},
		{"service variables", map[string]string{"AWS_ENDPOINT_URL_SSM": ssmURL, "AWS_ENDPOINT_URL_SNS": snsURL}, ssmURL, snsURL},
		{"global variable", map[string]string{"AWS_ENDPOINT_URL": global}, global, global},
		{"service variable wins", map[string]string{"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_SSM": ssmURL}, ssmURL, global},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_SNS": snsURL, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE"}, "", ""},
		{"not ignored", map[string]string{"AWS_ENDPOINT_URL_SNS": snsURL, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"}, "", snsURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setLambdaEnv(t, lambdaVars(tt.vars))
			lambdaCfg, err := lambdaenv.AWSConfig()
			if err != nil {
				t.Fatalf("AWSConfig() error = %v", err)
			}
			defaultCfg, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatalf("config.LoadDefaultConfig() error = %v", err)
			}
			for _, c := range []struct {
				name string
				cfg  aws.Config
			}{{"lambdaenv.AWSConfig", lambdaCfg}, {"config.LoadDefaultConfig", defaultCfg}} {
				if got := aws.ToString(ssm.NewFromConfig(c.cfg).Options().BaseEndpoint); got != tt.ssm {
					t.Errorf("ssm client from %s: BaseEndpoint = %q, want %q", c.name, got, tt.ssm)
				}
				if got := aws.ToString(sns.NewFromConfig(c.cfg).Options().BaseEndpoint); got != tt.sns {
					t.Errorf("sns client from %s: BaseEndpoint = %q, want %q", c.name, got, tt.sns)
				}
			}
		})
	}
}

// TestLambdaConfigClients calls the fakes with real clients built from
// lambdaenv.AWSConfig: requests are signed with the environment's credentials,
// session token included, and the clients share one HTTP client.
func TestLambdaConfigClients(t *testing.T) {
	ssmFake := awsenvtest.NewSSM(t, map[string]string{"/crossfaas-dev/sleuth/twilio-auth-token": "s3cr3t"})
	snsFake := awsenvtest.NewSNS(t, topic)
	var (
		mu     sync.Mutex
		tokens []string
	)
	// recordToken returns the URL of a proxy to the fake at target that
	// records the session token of each request.
	recordToken := func(target string) string {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		next := httputil.NewSingleHostReverseProxy(u)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			tokens = append(tokens, r.Header.Get("X-Amz-Security-Token"))
			mu.Unlock()
			next.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	setLambdaEnv(t, lambdaVars(map[string]string{
		"AWS_REGION":            awsenvtest.Region,
		"AWS_ACCESS_KEY_ID":     awsenvtest.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": awsenvtest.SecretAccessKey,
		"AWS_ENDPOINT_URL":      "http://127.0.0.1:1", // overridden by both service variables
		"AWS_ENDPOINT_URL_SSM":  recordToken(ssmFake.URL),
		"AWS_ENDPOINT_URL_SNS":  recordToken(snsFake.URL),
	}))
	cfg, err := lambdaenv.AWSConfig()
	if err != nil {
		t.Fatalf("AWSConfig() error = %v", err)
	}
	ssmClient, snsClient := ssm.NewFromConfig(cfg), sns.NewFromConfig(cfg)
	if ssmClient.Options().HTTPClient != snsClient.Options().HTTPClient {
		t.Errorf("the ssm and sns clients have different HTTP clients, want one shared")
	}

	ctx := context.Background()
	got, err := awsenv.GetSecureString(ctx, ssmClient, "/crossfaas-dev/sleuth/twilio-auth-token")
	if err != nil || got != "s3cr3t" {
		t.Errorf("GetSecureString() = %q, %v, want %q", got, err, "s3cr3t")
	}
	if err := awsenv.NewSNSPublisher(snsClient).Publish(ctx, topic, []byte(`{"command":"addcol"}`)); err != nil {
		t.Errorf("Publish() error = %v", err)
	}
	if n := len(snsFake.Published()); n != 1 {
		t.Errorf("fake SNS got %d messages, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 2 || tokens[0] != "session-token" || tokens[1] != "session-token" {
		t.Errorf("requests carried session tokens %q, want %q twice", tokens, "session-token")
	}
	for _, errs := range [][]error{ssmFake.Errors(), snsFake.Errors()} {
		if len(errs) > 0 {
			t.Errorf("fakes saw malformed requests: %v", errs)
		}
	}
}
