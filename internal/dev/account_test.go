package dev

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccountKeptAcrossStarts: the simulated Twilio account (whose auth
// token signs the webhooks) is made once per data directory and reused, so
// scripts that sign webhooks keep working after a restart.
func TestAccountKeptAcrossStarts(t *testing.T) {
	dir := t.TempDir()
	first := start(t, func(o *Options) { o.DataDir = dir })
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := start(t, func(o *Options) { o.DataDir = dir })
	if second.AuthToken != first.AuthToken || second.AccountSID != first.AccountSID {
		t.Errorf("account after a restart = %s/%s, want the first start's %s/%s", second.AccountSID, second.AuthToken, first.AccountSID, first.AuthToken)
	}
	fi, err := os.Stat(filepath.Join(dir, AccountFileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %v, want 0600 (it holds the auth token)", AccountFileName, perm)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}

	// A token given for one run is used and not stored.
	given := start(t, func(o *Options) { o.DataDir = dir; o.AuthToken = "given-token" })
	if given.AuthToken != "given-token" || given.AccountSID != first.AccountSID {
		t.Errorf("account with a given token = %s/%s, want %s/given-token", given.AccountSID, given.AuthToken, first.AccountSID)
	}
	if err := given.Close(); err != nil {
		t.Fatal(err)
	}
	if again := start(t, func(o *Options) { o.DataDir = dir }); again.AuthToken != first.AuthToken {
		t.Errorf("auth token after a run with a given one = %s, want the stored %s", again.AuthToken, first.AuthToken)
	}
}

func TestDamagedAccountFile(t *testing.T) {
	for _, content := range []string{"{not json", `{"accountSid": "nope", "authToken": "x"}`, `{"accountSid": "AC00000000000000000000000000000000"}`} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, AccountFileName), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Run(context.Background(), Options{Port: -1, DataDir: dir, Logger: testLogger(t)})
		if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "delete it") {
			t.Errorf("Run with %s holding %q = %v, want an error saying it is damaged and how to fix it", AccountFileName, content, err)
		}
	}
}
