package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// CollectionCleaner deletes a stack's collections; *rekognition.Collections
// implements it.
type CollectionCleaner interface {
	DeleteAll(ctx context.Context, keep []string) ([]string, error)
}

// Cleanup is the cleanup Lambda. The stack invokes it through an
// aws.lambda.Invocation with lifecycle scope CRUD, which adds
// {"tf": {"action": "create" | "update" | "delete"}} to its input: on
// "delete", when `pulumi destroy` (or a change that drops the bot)
// removes the invocation, it deletes every Rekognition collection of the
// stack, with their faces, but the ones the stack manages itself (Keep).
// Which collections are the stack's comes from the function's own prefix,
// never from the event; the event can only spare some. Other actions do
// nothing.
type Cleanup struct {
	collections CollectionCleaner
	log         *slog.Logger
}

// CleanupEvent is the input of the cleanup Lambda.
type CleanupEvent struct {
	// Keep lists collection ids the stack deletes itself.
	Keep []string `json:"keep"`
	// TF is what the Invocation resource adds to the input.
	TF struct {
		Action string `json:"action"`
	} `json:"tf"`
}

// CleanupResult is the cleanup Lambda's answer, stored in the stack's
// state as the invocation's result.
type CleanupResult struct {
	Action  string   `json:"action"`
	Deleted []string `json:"deleted"`
}

// NewCleanup returns a Cleanup. logger nil means lambdacontext.NewLogger().
func NewCleanup(collections CollectionCleaner, logger *slog.Logger) (*Cleanup, error) {
	if collections == nil {
		return nil, errors.New("worker: cleanup needs a CollectionCleaner")
	}
	if logger == nil {
		logger = lambdacontext.NewLogger()
	}
	return &Cleanup{collections: collections, log: logger}, nil
}

// Handle is the Lambda handler. An error fails the invocation, and so the
// `pulumi destroy` that asked for it: better than leaving face data behind
// unnoticed.
func (c *Cleanup) Handle(ctx context.Context, raw json.RawMessage) (CleanupResult, error) {
	var ev CleanupEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return CleanupResult{}, fmt.Errorf("cleanup: event is not a JSON object with tf.action: %w", err)
	}
	res := CleanupResult{Action: ev.TF.Action, Deleted: []string{}}
	if ev.TF.Action != "delete" {
		c.log.InfoContext(ctx, "cleanup: nothing to do", "action", ev.TF.Action)
		return res, nil
	}
	deleted, err := c.collections.DeleteAll(ctx, ev.Keep)
	res.Deleted = append(res.Deleted, deleted...)
	if err != nil {
		c.log.ErrorContext(ctx, "cleanup: collections left behind", "deleted", deleted, "error", err)
		return res, err
	}
	c.log.InfoContext(ctx, "cleanup: collections deleted", "deleted", deleted)
	return res, nil
}
