package dev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/crossfaas/crossfaas/internal/dev/phone"
)

// AccountFileName is the file in the data directory that keeps the
// simulated Twilio account, so that its auth token (which signs the
// webhooks) and account SID stay the same from one start to the next and
// scripts that sign webhooks keep working.
const AccountFileName = "twilio-account.json"

// account is the simulated Twilio account as stored.
type account struct {
	AccountSID string `json:"accountSid"`
	AuthToken  string `json:"authToken"`
}

// loadAccount returns the simulated account kept in dir, creating one with
// a random account SID and auth token on first use. The file is readable by
// its owner only: the token signs webhooks.
func loadAccount(dir string) (account, error) {
	path := filepath.Join(dir, AccountFileName)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		acc := account{AccountSID: phone.NewAccountSID(), AuthToken: phone.NewAuthToken()}
		if err := writeAccount(path, acc); err != nil {
			return account{}, err
		}
		return acc, nil
	case err != nil:
		return account{}, fmt.Errorf("read the simulated Twilio account: %w", err)
	}
	var acc account
	if err := json.Unmarshal(data, &acc); err != nil || !phone.ValidAccountSID(acc.AccountSID) || acc.AuthToken == "" {
		return account{}, fmt.Errorf("the simulated Twilio account in %s is damaged (want {\"accountSid\": \"AC...\", \"authToken\": \"...\"}): "+
			"fix it, or delete it to get a new account", path)
	}
	return acc, nil
}

// writeAccount writes acc to path atomically, readable by its owner only.
func writeAccount(path string, acc account) error {
	data, err := json.MarshalIndent(acc, "", "  ")
	if err != nil {
		return fmt.Errorf("store the simulated Twilio account: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("store the simulated Twilio account: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), AccountFileName+".*")
	if err != nil {
		return fmt.Errorf("store the simulated Twilio account: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, nothing to remove
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("store the simulated Twilio account: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store the simulated Twilio account: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("store the simulated Twilio account: %w", err)
	}
	return nil
}
