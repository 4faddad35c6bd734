package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
)

func TestConfigFromEnv(t *testing.T) {
	full := map[string]string{
		sleuth.EnvIdempotencyTable: table,
		sleuth.EnvFunctionTimeout:  "60",
		sleuth.EnvPrefix:           prefix,
		sleuth.EnvResponsesTopic:   responsesTopic,
	}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range full {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	tests := []struct {
		name    string
		handler string
		env     map[string]string
		check   func(t *testing.T, cfg worker.Config)
		wantErr string // a substring of the error; "" for success
	}{
		{
			name: "command defaults", handler: sleuth.HandlerMatch, env: full,
			check: func(t *testing.T, cfg worker.Config) {
				if cfg.Threshold != 85 || cfg.Prefix != prefix || cfg.ResponsesTopicARN != responsesTopic || cfg.FunctionTimeout != time.Minute ||
					cfg.IdempotencyTable != table || cfg.MediaHosts != nil || cfg.TwilioAPIURL != "" || cfg.WikipediaURL != "" {
					t.Errorf("ConfigFromEnv() = %+v, want defaults", cfg)
				}
			},
		},
		{
			name: "overrides", handler: sleuth.HandlerAddImage,
			env: with(sleuth.EnvMatchThreshold, "92.5", sleuth.EnvTwilioAPIURL, "http://127.0.0.1:4010",
				sleuth.EnvTwilioMediaHosts, "127.0.0.1:4010, *.twiliocdn.com", sleuth.EnvWikipediaURL, "http://127.0.0.1:4011"),
			check: func(t *testing.T, cfg worker.Config) {
				if cfg.Threshold != 92.5 || cfg.TwilioAPIURL != "http://127.0.0.1:4010" || cfg.WikipediaURL != "http://127.0.0.1:4011" ||
					strings.Join(cfg.MediaHosts, "|") != "127.0.0.1:4010|*.twiliocdn.com" {
					t.Errorf("ConfigFromEnv() = %+v, want the overrides", cfg)
				}
			},
		},
		{
			name: "respond needs only the table and timeout", handler: sleuth.HandlerRespond,
			env: map[string]string{sleuth.EnvIdempotencyTable: table, sleuth.EnvFunctionTimeout: "15"},
			check: func(t *testing.T, cfg worker.Config) {
				if cfg.FunctionTimeout != 15*time.Second {
					t.Errorf("FunctionTimeout = %v, want 15s", cfg.FunctionTimeout)
				}
			},
		},
		{
			name: "cleanup needs only the prefix", handler: sleuth.HandlerCleanup,
			env: map[string]string{sleuth.EnvPrefix: prefix},
		},
		{name: "no timeout", handler: sleuth.HandlerRespond, env: map[string]string{sleuth.EnvIdempotencyTable: table}, wantErr: sleuth.EnvFunctionTimeout},
		{name: "timeout not a number", handler: sleuth.HandlerMatch, env: with(sleuth.EnvFunctionTimeout, "1m"), wantErr: sleuth.EnvFunctionTimeout},
		{name: "timeout over Lambda's", handler: sleuth.HandlerMatch, env: with(sleuth.EnvFunctionTimeout, "901"), wantErr: sleuth.EnvFunctionTimeout},
		{name: "prefix with the collection separator", handler: sleuth.HandlerAddCollection, env: with(sleuth.EnvPrefix, "crossfaas-dev.eu"), wantErr: sleuth.EnvPrefix},
		{name: "no table", handler: sleuth.HandlerFailure, env: map[string]string{}, wantErr: sleuth.EnvIdempotencyTable},
		{name: "no prefix", handler: sleuth.HandlerAddCollection, env: with(sleuth.EnvPrefix, ""), wantErr: sleuth.EnvPrefix},
		{name: "no topic", handler: sleuth.HandlerAddCollection, env: with(sleuth.EnvResponsesTopic, " "), wantErr: sleuth.EnvResponsesTopic},
		{name: "bad prefix", handler: sleuth.HandlerAddCollection, env: with(sleuth.EnvPrefix, "my stack"), wantErr: sleuth.EnvPrefix},
		{name: "threshold not a number", handler: sleuth.HandlerMatch, env: with(sleuth.EnvMatchThreshold, "high"), wantErr: sleuth.EnvMatchThreshold},
		{name: "threshold over 100", handler: sleuth.HandlerMatch, env: with(sleuth.EnvMatchThreshold, "101"), wantErr: sleuth.EnvMatchThreshold},
		{name: "threshold NaN", handler: sleuth.HandlerMatch, env: with(sleuth.EnvMatchThreshold, "NaN"), wantErr: sleuth.EnvMatchThreshold},
		{name: "bad media host", handler: sleuth.HandlerMatch, env: with(sleuth.EnvTwilioMediaHosts, "https://x"), wantErr: sleuth.EnvTwilioMediaHosts},
		{name: "bad twilio URL", handler: sleuth.HandlerRespond, env: with(sleuth.EnvTwilioAPIURL, "api.twilio.com"), wantErr: sleuth.EnvTwilioAPIURL},
		{name: "bad wikipedia URL", handler: sleuth.HandlerMatch, env: with(sleuth.EnvWikipediaURL, "ftp://x"), wantErr: sleuth.EnvWikipediaURL},
		{name: "unknown handler", handler: "request", env: full, wantErr: `"request"`},
	}
	vars := []string{sleuth.EnvIdempotencyTable, sleuth.EnvFunctionTimeout, sleuth.EnvPrefix, sleuth.EnvResponsesTopic, sleuth.EnvMatchThreshold,
		sleuth.EnvTwilioAPIURL, sleuth.EnvTwilioMediaHosts, sleuth.EnvWikipediaURL}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range vars {
				t.Setenv(v, tt.env[v])
			}
			cfg, err := worker.ConfigFromEnv(tt.handler)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ConfigFromEnv(%q) error = %v, want one naming %s", tt.handler, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv(%q) error = %v", tt.handler, err)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}
