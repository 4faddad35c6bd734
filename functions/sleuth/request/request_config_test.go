package request

import (
	"maps"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{
		sleuth.EnvAddCollectionTopic: testTopics[sleuth.VerbAddCollection],
		sleuth.EnvAddImageTopic:      testTopics[sleuth.VerbAddImage],
		sleuth.EnvMatchTopic:         testTopics[sleuth.VerbMatch],
		sleuth.EnvWebhookURL:         "",
	}
	with := func(k, v string) map[string]string {
		m := maps.Clone(base)
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // "" for success: a phrase of the error otherwise
		check   func(Config) bool
	}{
		{"minimal", base, "", func(c Config) bool {
			return maps.Equal(c.Topics, testTopics) && c.AllowedSenders == nil && c.WebhookURL == "" &&
				c.PublishTimeout == DefaultPublishTimeout
		}},
		{"webhook URL", with(sleuth.EnvWebhookURL, "https://sms.example.com/sms"), "", func(c Config) bool {
			return c.WebhookURL == "https://sms.example.com/sms"
		}},
		{"missing topic", with(sleuth.EnvAddImageTopic, ""), sleuth.EnvAddImageTopic + " is not set", nil},
		{"relative webhook URL", with(sleuth.EnvWebhookURL, "/sms"), sleuth.EnvWebhookURL, nil},
		{"webhook URL of another scheme", with(sleuth.EnvWebhookURL, "ftp://x/sms"), sleuth.EnvWebhookURL, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := ConfigFromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ConfigFromEnv() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv() error = %v", err)
			}
			if !tt.check(cfg) {
				t.Errorf("ConfigFromEnv() = %+v", cfg)
			}
		})
	}
}

func TestIsE164(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"+15550001111", true},
		{"+447700900123", true},
		{"+12", true},
		{"+123456789012345", true},
		{"+1234567890123456", false},
		{"+1", false},
		{"+0123456", false},
		{"15550001111", false},
		{"+1555000111a", false},
		{"+1 555 000", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := isE164(tt.in); got != tt.want {
				t.Errorf("isE164(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
