package federation_test

import (
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/federation"
)

// gcloudConfig is what `gcloud iam workload-identity-pools create-cred-config
// projects/123456789/locations/global/workloadIdentityPools/p/providers/aws
// --aws --service-account=caller@proj.iam.gserviceaccount.com` writes.
const gcloudConfig = `{"universe_domain":"googleapis.com","type":"external_account",` +
	`"audience":"//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/p/providers/aws",` +
	`"subject_token_type":"urn:ietf:params:aws:token-type:aws4_request",` +
	`"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/caller@proj.iam.gserviceaccount.com:generateAccessToken",` +
	`"token_url":"https://sts.googleapis.com/v1/token",` +
	`"credential_source":{"environment_id":"aws1",` +
	`"region_url":"http://169.254.169.254/latest/meta-data/placement/availability-zone",` +
	`"url":"http://169.254.169.254/latest/meta-data/iam/security-credentials",` +
	`"regional_cred_verification_url":"https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}}`

func TestNewAWSCredentialConfigIsGcloudsFormat(t *testing.T) {
	for _, audience := range []string{
		"projects/123456789/locations/global/workloadIdentityPools/p/providers/aws",
		"//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/p/providers/aws",
	} {
		got := string(federation.NewAWSCredentialConfig(audience, "caller@proj.iam.gserviceaccount.com").JSON())
		if got != gcloudConfig {
			t.Errorf("NewAWSCredentialConfig(%q).JSON() =\n%s\nwant\n%s", audience, got, gcloudConfig)
		}
	}
	c, err := federation.ParseCredentialConfig([]byte(gcloudConfig))
	if err != nil {
		t.Fatalf("ParseCredentialConfig(gcloud's JSON) = %v", err)
	}
	if sa, _ := c.ServiceAccount(); sa != "caller@proj.iam.gserviceaccount.com" {
		t.Errorf("ServiceAccount() = %q", sa)
	}
	want := "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/caller@proj.iam.gserviceaccount.com:generateIdToken"
	if u, _ := c.IDTokenURL(); u != want {
		t.Errorf("IDTokenURL() = %q, want %q", u, want)
	}
	if strings.Contains(strings.ToLower(gcloudConfig), "secret") || strings.Contains(gcloudConfig, "private_key") {
		t.Error("the credential configuration holds a secret")
	}
}

func TestParseCredentialConfigRejects(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"not json", gcloudConfig, "{", "parse credential config"},
		{"service account key", `"type":"external_account"`, `"type":"service_account"`, `type is "service_account"`},
		{"oidc token type", "aws:token-type:aws4_request", "oauth:token-type:jwt", "subject_token_type"},
		{"azure source", `"environment_id":"aws1"`, `"environment_id":"azure1"`, "environment_id"},
		{"audience not a provider", "/providers/aws", "", "not a workload identity pool provider"},
		{"plain http sts", "https://sts.googleapis.com", "http://sts.googleapis.com", "use https"},
		{"plain http iam", "https://iamcredentials.googleapis.com", "http://iamcredentials.googleapis.com", "use https"},
		{"access token impersonation url", ":generateAccessToken", ":generateIdToken", "serviceAccounts/<email>:generateAccessToken"},
		{"no region placeholder", "sts.{region}.amazonaws.com", "sts.amazonaws.com", "{region}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := strings.Replace(gcloudConfig, tt.from, tt.to, 1)
			if _, err := federation.ParseCredentialConfig([]byte(raw)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCredentialConfig() error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	loopback := strings.NewReplacer("https://sts.googleapis.com", "http://127.0.0.1:9/sts", "https://iamcredentials.googleapis.com", "http://[::1]:9").Replace(gcloudConfig)
	if _, err := federation.ParseCredentialConfig([]byte(loopback)); err != nil {
		t.Errorf("ParseCredentialConfig() with loopback http endpoints = %v, want them accepted", err)
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "session"}
	c, err := federation.CredentialsFromEnv(func(k string) string { return env[k] })
	if err != nil || c != (federation.AWSCredentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "session"}) {
		t.Errorf("CredentialsFromEnv() = %+v, %v", c, err)
	}
	delete(env, "AWS_SECRET_ACCESS_KEY")
	if _, err := federation.CredentialsFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("CredentialsFromEnv() without a secret = %v, want an error naming the variable", err)
	}
}

func TestRegionFromEnv(t *testing.T) {
	tests := []struct {
		region, defaultRegion, want string
		ok                          bool
	}{
		{"us-east-1", "", "us-east-1", true},
		{"", "eu-west-3", "eu-west-3", true},
		{"us-gov-west-1", "eu-west-3", "us-gov-west-1", true},
		{"ap-southeast-2", "", "ap-southeast-2", true},
		{"", "", "", false},
		{"us-east-1.evil.example", "", "", false},
		{"US-EAST-1", "", "", false},
		{"us-east", "", "", false},
		{"us--1", "", "", false},
	}
	for _, tt := range tests {
		env := map[string]string{"AWS_REGION": tt.region, "AWS_DEFAULT_REGION": tt.defaultRegion}
		got, err := federation.RegionFromEnv(func(k string) string { return env[k] })
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("RegionFromEnv(AWS_REGION=%q, AWS_DEFAULT_REGION=%q) = %q, %v; want %q, ok %v", tt.region, tt.defaultRegion, got, err, tt.want, tt.ok)
		}
	}
}
