package dev

import (
	"context"
	"fmt"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// defaultCollectionTimeout bounds the creation of the default collection
// at start (a Rekognition call with --cloud).
const defaultCollectionTimeout = 15 * time.Second

// createDefaultCollection creates the stage's default collection (celebs),
// as the stack does, so the README's walkthrough and the phone simulator's
// examples work without a `face addcol` first. It is idempotent: a
// collection that exists is left as it is, faces included. Offline, a
// failure stops the start (the face database is broken); with --cloud it
// only becomes a note in the banner, so that a user without AWS
// credentials can still use the labeler.
func (s *System) createDefaultCollection(ctx context.Context, opts Options, faces sleuth.Faces) error {
	id := sleuth.CollectionID(opts.Prefix, sleuth.DefaultCollection)
	ctx, cancel := context.WithTimeout(ctx, defaultCollectionTimeout)
	defer cancel()
	created, err := faces.CreateCollection(ctx, id)
	switch {
	case err != nil && opts.Cloud:
		s.notes = append(s.notes, fmt.Sprintf("Could not create the collection %s in Rekognition (%s): %v",
			sleuth.DefaultCollection, id, err))
		s.logger.Warn("dev: default collection not created", "collection", id, "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("create the default collection %s: %w", sleuth.DefaultCollection, err)
	}
	s.logger.Debug("dev: default collection ready", "collection", id, "created", created)
	return nil
}
