package dev

import (
	"fmt"
	"log/slog"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
)

// respondFunction is the respond Lambda: it sends each reply by SMS.
func respondFunction(name string, eng *engines, ledger sleuth.Ledger, logger *slog.Logger) (*lambdaemu.Function, error) {
	r, err := worker.NewResponder(ledger, eng.sms, logger)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return lambdaemu.NewFunction(name, markProblems(r.HandleSNS), workerTimeout), nil
}

// failureFunction is the failure Lambda: subscribed to the command
// functions' on-failure destination topic, it tells the user a command
// failed for good.
func failureFunction(name string, eng *engines, ledger sleuth.Ledger, logger *slog.Logger) (*lambdaemu.Function, error) {
	f, err := worker.NewFailure(ledger, eng.sms, logger)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return lambdaemu.NewFunction(name, allProblems(f.HandleSNS), workerTimeout), nil
}
