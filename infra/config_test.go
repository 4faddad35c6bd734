package main

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// loadConfig runs LoadConfig for crossfaas/<stack> with the given settings.
func loadConfig(t *testing.T, project, stack string, settings map[string]string) (Config, error) {
	t.Helper()
	var cfg Config
	var loadErr error
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, loadErr = LoadConfig(ctx)
		return nil
	}, pulumi.WithMocks(project, stack, &mocks{}), withConfig(settings))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return cfg, loadErr
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(t, "crossfaas", "dev", testConfig())
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := Config{
		Project: "crossfaas", Stack: "dev", Prefix: "crossfaas-dev",
		AWSRegion: "us-east-1", GCPProject: "test-project-123", GCPRegion: "us-central1",
		LabelerRuntime: "go126", LabelerMemory: "256M", LabelerTimeoutSeconds: 60, LabelerMaxInstances: 5,
		LabelerAccess: LabelerPrivate, GoogleAPIsReadyTimeout: 0, // testConfig turns the wait off
		ProxyMemoryMB: 128, ProxyTimeoutSeconds: 10, LogRetentionDays: 14,
		APIAccessLogs: false, APIThrottlingBurst: 20, APIThrottlingRate: 10,
		SleuthRequestMemoryMB: 128, SleuthRequestTimeoutSeconds: 8, SleuthWorkerMemoryMB: 256, SleuthWorkerTimeoutSeconds: 60,
		MatchThreshold: 85,
		UploadMaxMiB:   10, SafeSearchAction: "quarantine",
	}
	// The Twilio credentials are secret outputs: TestLoadConfigTwilioSecrets
	// checks them.
	cfg.TwilioAccountSID, cfg.TwilioAuthToken = pulumi.StringOutput{}, pulumi.StringOutput{}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("LoadConfig() = %+v, want %+v", cfg, want)
	}
	if got := cfg.Name("proxy"); got != "crossfaas-dev-proxy" {
		t.Errorf("Name(%q) = %q, want %q", "proxy", got, "crossfaas-dev-proxy")
	}

	if len(cfg.Tags()) != 2 || len(cfg.Labels()) != 2 {
		t.Errorf("Tags() = %v, Labels() = %v, want project and stack", cfg.Tags(), cfg.Labels())
	}
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		name    string
		project string
		stack   string
		key     string
		value   string // "" deletes the key
		want    string // a part of the error, which must also name the key
	}{
		{name: "missing aws region", key: "aws:region", want: "aws:region is required"},
		{name: "missing gcp project", key: "gcp:project", want: "gcp:project is required"},
		{name: "aws region shape", key: "aws:region", value: "US East", want: "not an AWS region"},
		{name: "gcp project shape", key: "gcp:project", value: "My_Project", want: "not a Google Cloud project id"},
		{name: "gcp region shape", key: "gcp:region", value: "central", want: "not a Google Cloud region"},
		{name: "runtime not go", key: "crossfaas:labelerRuntime", value: "nodejs20", want: "not a Go runtime id"},
		{name: "memory without number", key: "crossfaas:labelerMemory", value: "lots", want: "not a memory size"},
		{name: "memory unit", key: "crossfaas:labelerMemory", value: "256MB", want: "not a memory size"},
		{name: "memory too small", key: "crossfaas:labelerMemory", value: "64M", want: "outside the range"},
		{name: "memory too big", key: "crossfaas:labelerMemory", value: "64Gi", want: "outside the range"},
		{name: "memory overflow", key: "crossfaas:labelerMemory", value: "99999999999999Gi", want: "outside the range"},
		{name: "timeout not a number", key: "crossfaas:labelerTimeoutSeconds", value: "1m", want: "not a whole number"},
		{name: "timeout too long", key: "crossfaas:labelerTimeoutSeconds", value: "3601", want: "out of range"},
		{name: "no instances", key: "crossfaas:labelerMaxInstances", value: "0", want: "out of range"},
		{name: "lambda memory too small", key: "crossfaas:proxyMemoryMb", value: "64", want: "out of range"},
		{name: "proxy timeout past API Gateway's", key: "crossfaas:proxyTimeoutSeconds", value: "31", want: "out of range"},
		{name: "retention CloudWatch lacks", key: "crossfaas:logRetentionDays", value: "10", want: "not a retention CloudWatch Logs accepts"},
		{name: "access logs not a bool", key: "crossfaas:apiAccessLogs", value: "sometimes", want: "not true or false"},
		{name: "burst zero", key: "crossfaas:apiThrottlingBurstLimit", value: "0", want: "out of range"},
		{name: "rate not a number", key: "crossfaas:apiThrottlingRateLimit", value: "NaN", want: "not a number"},
		{name: "rate zero", key: "crossfaas:apiThrottlingRateLimit", value: "0", want: "out of range"},
		{name: "stack with capitals", stack: "Dev", want: "name prefix"},
		{name: "stack with underscore", stack: "my_stack", want: "name prefix"},
		{name: "prefix too long", stack: strings.Repeat("s", 40), want: "at most 40 characters"},
		{name: "labeler access", key: "crossfaas:labelerAccess", value: "open", want: "not one of private, public"},
		{name: "api wait not a duration", key: "crossfaas:googleApisReadyTimeout", value: "5", want: "not a duration"},
		{name: "api wait too long", key: "crossfaas:googleApisReadyTimeout", value: "2h", want: "out of range"},
		{name: "api wait negative", key: "crossfaas:googleApisReadyTimeout", value: "-1s", want: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project, stack := "crossfaas", "dev"
			if tt.project != "" {
				project = tt.project
			}
			if tt.stack != "" {
				stack = tt.stack
			}
			settings := testConfig()
			if tt.key != "" {
				if tt.value == "" {
					delete(settings, tt.key)
				} else {
					settings[tt.key] = tt.value
				}
			}
			_, err := loadConfig(t, project, stack, settings)
			if err == nil {
				t.Fatalf("LoadConfig(%s=%q) succeeded, want an error containing %q", tt.key, tt.value, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("LoadConfig(%s=%q) error = %q, want it to contain %q and name the key", tt.key, tt.value, err, tt.want)
			}
		})
	}
}

func TestLoadConfigPrivateLinkSettings(t *testing.T) {
	settings := testConfig()
	delete(settings, "crossfaas:googleApisReadyTimeout")
	cfg, err := loadConfig(t, "crossfaas", "dev", settings)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LabelerAccess != LabelerPrivate || cfg.GoogleAPIsReadyTimeout != 5*time.Minute {
		t.Errorf("defaults: labelerAccess %q, googleApisReadyTimeout %v; want private, 5m", cfg.LabelerAccess, cfg.GoogleAPIsReadyTimeout)
	}
	settings["crossfaas:labelerAccess"] = "public"
	settings["crossfaas:googleApisReadyTimeout"] = "90s"
	if cfg, err = loadConfig(t, "crossfaas", "dev", settings); err != nil || cfg.LabelerAccess != LabelerPublic || cfg.GoogleAPIsReadyTimeout != 90*time.Second {
		t.Errorf("labelerAccess public, googleApisReadyTimeout 90s: got %q, %v (%v)", cfg.LabelerAccess, cfg.GoogleAPIsReadyTimeout, err)
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	settings := map[string]string{
		"crossfaas:proxyMemoryMb":       "big",
		"crossfaas:proxyTimeoutSeconds": "900",
	}
	_, err := loadConfig(t, "crossfaas", "dev", settings)
	if err == nil {
		t.Fatal("LoadConfig succeeded without aws:region and gcp:project")
	}
	for _, key := range []string{"aws:region", "gcp:project", "crossfaas:proxyMemoryMb", "crossfaas:proxyTimeoutSeconds"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("LoadConfig error = %q, want it to mention %s", err, key)
		}
	}
}

func TestValidateFunctionMemory(t *testing.T) {
	for _, s := range []string{"128M", "256M", "512Mi", "1G", "1Gi", "32Gi", "134217728", "131072k"} {
		if err := validateFunctionMemory(s); err != nil {
			t.Errorf("validateFunctionMemory(%q) = %v, want nil", s, err)
		}
	}
}

func TestBoundedName(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{name: "fits", in: "crossfaas-dev-labeler", limit: 30, want: "crossfaas-dev-labeler"},
		{name: "exactly at the limit", in: "abcdef", limit: 6, want: "abcdef"},
		{name: "cut with hash", in: "crossfaas-production-labeler", limit: 20, want: "crossfaas-p-" + shortHash("crossfaas-production-labeler", 8)},
		{name: "cut at a hyphen", in: "crossfaas-dev-labeler-extra", limit: 23, want: "crossfaas-dev-" + shortHash("crossfaas-dev-labeler-extra", 8)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := boundedName(tt.in, tt.limit); got != tt.want {
				t.Errorf("boundedName(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
		})
	}
	long := strings.Repeat("x", 40)
	if a, b := boundedName(long+"a", 30), boundedName(long+"b", 30); a == b {
		t.Errorf("boundedName gave %q to two different long names", a)
	}
}

func TestServiceAccountIDStaysValid(t *testing.T) {
	// Google's rule for account ids: 6 to 30 characters, a letter first,
	// no hyphen last.
	rule := regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	for _, stack := range []string{"dev", "prod", "a-rather-long-stage-name"} {
		id := boundedName("crossfaas-"+stack+"-labeler", 30)
		if !rule.MatchString(id) {
			t.Errorf("service account id for stack %q = %q, want it to match %s", stack, id, rule)
		}
	}
}

// TestDefaultLabelerRuntimeCoversGoMod fails when functions/labeler/go.mod
// asks for a newer Go than the default Cloud Functions runtime provides.
func TestDefaultLabelerRuntimeCoversGoMod(t *testing.T) {
	b, err := os.ReadFile("../functions/labeler/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go 1\.(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("functions/labeler/go.mod has no go directive")
	}
	needed, _ := strconv.Atoi(string(m[1]))
	provided, err := strconv.Atoi(strings.TrimPrefix(defaultLabelerRuntime, "go1"))
	if err != nil {
		t.Fatalf("defaultLabelerRuntime %q is not go1NN", defaultLabelerRuntime)
	}
	if provided < needed {
		t.Errorf("defaultLabelerRuntime = %q, but functions/labeler/go.mod needs go 1.%d: use go1%d", defaultLabelerRuntime, needed, needed)
	}
}
