package main

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/ledger"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// TestSleuthSettings checks the crossfaas:* settings of the bot reach its
// resources.
func TestSleuthSettings(t *testing.T) {
	cfg := testConfig()
	for k, v := range map[string]string{
		"crossfaas:sleuthRequestMemoryMb":       "256",
		"crossfaas:sleuthRequestTimeoutSeconds": "12",
		"crossfaas:sleuthWorkerMemoryMb":        "1024",
		"crossfaas:sleuthWorkerTimeoutSeconds":  "300",
		"crossfaas:matchThreshold":              "92.5",
		"crossfaas:allowedSenders":              "+15551234567, +15557654321",
		"crossfaas:logRetentionDays":            "30",
	} {
		cfg[k] = v
	}
	s := runSleuthStack(t, "prod", cfg)
	request, match := s.function(sleuth.HandlerRequest), s.function(sleuth.HandlerMatch)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"request memory", request.Inputs["memorySize"], float64(256)},
		{"request timeout", request.Inputs["timeout"], float64(12)},
		{"match memory", match.Inputs["memorySize"], float64(1024)},
		{"match timeout", match.Inputs["timeout"], float64(300)},
		{"failure timeout", s.function(sleuth.HandlerFailure).Inputs["timeout"], float64(300)},
		{"match's claims follow its timeout", get(match.Inputs, "environment.variables."+sleuth.EnvFunctionTimeout), "300"},
		{"respond's claims follow its timeout", get(s.function(sleuth.HandlerRespond).Inputs, "environment.variables."+sleuth.EnvFunctionTimeout), "300"},
		{"threshold", get(match.Inputs, "environment.variables."+sleuth.EnvMatchThreshold), "92.5"},
		{"allowed senders", s.mocks.named(t, typeParameter, "sleuth-allowed-senders").Inputs["value"], "+15551234567,+15557654321"},
		{"log retention", s.mocks.named(t, typeLogGroup, "sleuth-respond-logs").Inputs["retentionInDays"], float64(30)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	for _, handler := range sleuthHandlers[1:] {
		if v := get(s.function(handler).Inputs, "environment.variables."+sleuth.EnvAllowedSendersParam); v != nil {
			t.Errorf("%s gets %s = %v, want it only on the request Lambda", handler, sleuth.EnvAllowedSendersParam, v)
		}
	}
}

// TestSleuthAllowedSendersStayInSSM: phone numbers are personal data; they
// are in a SecureString parameter, a Pulumi secret, and in no Lambda's
// environment, no other resource and no output. Unset, the parameter
// holds "*" (anyone), so the webhook always reads it and fails closed.
func TestSleuthAllowedSendersStayInSSM(t *testing.T) {
	cfg := testConfig()
	cfg["crossfaas:allowedSenders"] = "+15551234567,+15557654321"
	s := runSleuthStack(t, "dev", cfg)
	p := s.mocks.named(t, typeParameter, "sleuth-allowed-senders")
	if p.Inputs["type"] != "SecureString" || !p.SecretInputs["value"] || p.Inputs["name"] != "/crossfaas-dev/sleuth/allowed-senders" {
		t.Errorf("allowed senders parameter = %v (secret value: %v), want a secret SecureString /crossfaas-dev/sleuth/allowed-senders", p.Inputs, p.SecretInputs["value"])
	}
	for _, r := range s.mocks.snapshot() {
		if r.Type == typeParameter && r.Name == p.Name {
			continue
		}
		if text := fmt.Sprintf("%v %v", r.Inputs, r.Outputs); strings.Contains(text, "5551234567") || strings.Contains(text, "5557654321") {
			t.Errorf("%s %s holds an allowed sender's number", r.Type, r.Name)
		}
	}
	if strings.Contains(fmt.Sprint(s.outputs), "5551234567") {
		t.Error("the stack outputs hold an allowed sender's number")
	}
	anyone := runSleuthStack(t, "dev", testConfig())
	if v := anyone.mocks.named(t, typeParameter, "sleuth-allowed-senders").Inputs["value"]; v != sleuth.AnySender {
		t.Errorf("allowed senders parameter without the setting = %v, want %q", v, sleuth.AnySender)
	}
}

func TestSleuthDefaults(t *testing.T) {
	timeout := time.Duration(defaultSleuthWorkerTimeoutSeconds) * time.Second
	if timeout != worker.DefaultFunctionTimeout {
		t.Errorf("defaultSleuthWorkerTimeoutSeconds = %v, want worker.DefaultFunctionTimeout %v", timeout, worker.DefaultFunctionTimeout)
	}
	if timeout != ledger.DefaultLease {
		t.Errorf("defaultSleuthWorkerTimeoutSeconds = %v, want ledger.DefaultLease %v", timeout, ledger.DefaultLease)
	}
	if defaultMatchThreshold != worker.DefaultThreshold {
		t.Errorf("defaultMatchThreshold = %v, want worker.DefaultThreshold %v", defaultMatchThreshold, worker.DefaultThreshold)
	}
}

// loadConfigWith runs LoadConfig for crossfaas/dev with settings, of
// which only the keys in secret are stored as secrets.
func loadConfigWith(t *testing.T, settings map[string]string, secret []string) (Config, error) {
	t.Helper()
	var cfg Config
	var loadErr error
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, loadErr = LoadConfig(ctx)
		return nil
	}, pulumi.WithMocks("crossfaas", "dev", &mocks{}), withConfig(settings),
		func(info *pulumi.RunInfo) { info.ConfigSecretKeys = secret })
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return cfg, loadErr
}

func TestLoadConfigSleuthRejects(t *testing.T) {
	bothSecret := []string{configTwilioAccountSID, configTwilioAuthToken}
	allSecret := append(slices.Clone(bothSecret), "crossfaas:allowedSenders")
	tests := []struct {
		name   string
		key    string
		value  string // "" deletes the key
		secret []string
		want   string
	}{
		{name: "no account sid", key: configTwilioAccountSID, secret: bothSecret, want: "pulumi config set --secret crossfaas:twilioAccountSid"},
		{name: "no auth token", key: configTwilioAuthToken, secret: bothSecret, want: "pulumi config set --secret crossfaas:twilioAuthToken"},
		{name: "auth token in plain text", key: configTwilioAuthToken, value: testAuthToken, secret: []string{configTwilioAccountSID}, want: "stored in plain text"},
		{name: "account sid in plain text", key: configTwilioAccountSID, value: testAccountSID, secret: []string{configTwilioAuthToken}, want: "stored in plain text"},
		{name: "token given as the sid", key: configTwilioAccountSID, value: "0123456789abcdef0123456789abcdef", secret: bothSecret, want: "not a Twilio account SID"},
		{name: "sender without plus", key: "crossfaas:allowedSenders", value: "15551234567", secret: allSecret, want: "not an E.164 phone number"},
		{name: "sender with letters", key: "crossfaas:allowedSenders", value: `["+1555CALLME"]`, secret: allSecret, want: "not an E.164 phone number"},
		{name: "unquoted sender in yaml", key: "crossfaas:allowedSenders", value: `[15551234567]`, secret: allSecret, want: `quote it in the stack file ("+15551234567")`},
		{name: "senders not a list", key: "crossfaas:allowedSenders", value: `["+15551234567"`, secret: allSecret, want: "not a list"},
		{name: "senders after the list", key: "crossfaas:allowedSenders", value: `["+15551234567"] +15557654321`, secret: allSecret, want: "not a list"},
		{name: "threshold above 100", key: "crossfaas:matchThreshold", value: "101", secret: bothSecret, want: "out of range"},
		{name: "threshold not a number", key: "crossfaas:matchThreshold", value: "high", secret: bothSecret, want: "not a number"},
		{name: "request timeout past Twilio's patience", key: "crossfaas:sleuthRequestTimeoutSeconds", value: "13", secret: bothSecret, want: "out of range"},
		{name: "worker timeout past Lambda's", key: "crossfaas:sleuthWorkerTimeoutSeconds", value: "901", secret: bothSecret, want: "out of range"},
		{name: "allowed senders in plain text", key: "crossfaas:allowedSenders", value: "+15551234567", secret: bothSecret, want: "pulumi config set --secret crossfaas:allowedSenders"},
		{name: "worker memory too small", key: "crossfaas:sleuthWorkerMemoryMb", value: "64", secret: bothSecret, want: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := testConfig()
			if tt.value == "" {
				delete(settings, tt.key)
			} else {
				settings[tt.key] = tt.value
			}
			_, err := loadConfigWith(t, settings, tt.secret)
			if err == nil {
				t.Fatalf("LoadConfig(%s=%q) succeeded, want an error containing %q", tt.key, tt.value, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("LoadConfig(%s=%q) error = %q, want it to contain %q and name the key", tt.key, tt.value, err, tt.want)
			}
			for _, secret := range []string{testAuthToken, testAccountSID, "0123456789abcdef0123456789abcdef"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("LoadConfig error = %q reveals a secret value", err)
				}
			}
		})
	}
}

func TestLoadConfigAllowedSenders(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string
	}{
		{name: "unset", value: "", want: nil},
		{name: "yaml list", value: `["+15551234567", "+447700900123"]`, want: []string{"+15551234567", "+447700900123"}},
		{name: "comma-separated", value: " +15551234567 ,+447700900123,", want: []string{"+15551234567", "+447700900123"}},
		{name: "empty list", value: `[]`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := testConfig()
			if tt.value != "" {
				settings["crossfaas:allowedSenders"] = tt.value
			}
			cfg, err := loadConfigWith(t, settings, []string{configTwilioAccountSID, configTwilioAuthToken, "crossfaas:allowedSenders"})
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !reflect.DeepEqual(cfg.AllowedSenders, tt.want) {
				t.Errorf("LoadConfig(allowedSenders=%q).AllowedSenders = %q, want %q", tt.value, cfg.AllowedSenders, tt.want)
			}
		})
	}
}

func TestLoadConfigTwilioSecrets(t *testing.T) {
	var sid, token pulumi.StringOutput
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, err := LoadConfig(ctx)
		sid, token = cfg.TwilioAccountSID, cfg.TwilioAuthToken
		return err
	}, pulumi.WithMocks("crossfaas", "dev", &mocks{}), withConfig(testConfig()))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	for _, c := range []struct {
		name string
		out  pulumi.StringOutput
		want string
	}{{"account SID", sid, testAccountSID}, {"auth token", token, testAuthToken}} {
		res, err := internals.UnsafeAwaitOutput(context.Background(), c.out)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !res.Secret || res.Value != c.want {
			t.Errorf("Twilio %s: secret %v, matches the config %v; want a secret holding the config value", c.name, res.Secret, res.Value == c.want)
		}
	}
}
