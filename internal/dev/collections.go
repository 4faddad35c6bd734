package dev

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/command"
	"github.com/crossfaas/crossfaas/internal/dev/phone"
	"github.com/crossfaas/crossfaas/internal/offline/faces"
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

// collectionLister lists the collections and their faces; the offline face
// engine is one.
type collectionLister interface {
	Collections(ctx context.Context) ([]faces.Collection, error)
}

// collectionsView is the JSON of GET /api/collections, the phone
// simulator's panel of collections.
type collectionsView struct {
	// Available is false when the engine cannot list (Rekognition, with
	// --cloud); Note says why.
	Available   bool             `json:"available"`
	Note        string           `json:"note,omitempty"`
	Collections []collectionView `json:"collections"`
}

type collectionView struct {
	Name  string     `json:"name"` // the user's name, without the prefix
	Faces []faceView `json:"faces"`
}

type faceView struct {
	Name        string    `json:"name"`        // as indexed, "mel_gibson"
	DisplayName string    `json:"displayName"` // "Mel Gibson"
	IndexedAt   time.Time `json:"indexedAt"`
	// Photo is where the page loads the photo the face was added with,
	// when it was texted from the page.
	Photo string `json:"photo,omitempty"`
}

// serveCollections answers GET /api/collections: the system's collections
// (those under prefix), the default one first, with their faces and, for
// faces added from the page, their photos.
func serveCollections(lister collectionLister, sim *phone.Simulator, prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		view := collectionsView{Available: lister != nil, Collections: []collectionView{}}
		if lister == nil {
			view.Note = "With --cloud the collections are in Amazon Rekognition; list them with the AWS CLI: aws rekognition list-collections."
			writeJSON(w, http.StatusOK, view)
			return
		}
		all, err := lister.Collections(r.Context())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		photos := addedPhotos(sim.Photos())
		for _, c := range all {
			name, ok := strings.CutPrefix(c.ID, sleuth.CollectionID(prefix, ""))
			if !ok || name == "" {
				continue // another prefix's
			}
			cv := collectionView{Name: name, Faces: []faceView{}}
			for _, f := range c.Faces {
				cv.Faces = append(cv.Faces, faceView{
					Name: f.ExternalID, DisplayName: command.DisplayName(f.ExternalID), IndexedAt: f.IndexedAt,
					Photo: photos.before(name, f.ExternalID, f.IndexedAt),
				})
			}
			view.Collections = append(view.Collections, cv)
		}
		slices.SortStableFunc(view.Collections, func(a, b collectionView) int {
			switch {
			case a.Name == sleuth.DefaultCollection:
				return -1
			case b.Name == sleuth.DefaultCollection:
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		writeJSON(w, http.StatusOK, view)
	}
}

// pagePhotos are the photos texted from the page with "face addimg", by
// collection and name, oldest first.
type pagePhotos map[[2]string][]phone.SentPhoto

// addedPhotos picks the photos sent with an addimg command, as the bot
// parses it.
func addedPhotos(sent []phone.SentPhoto) pagePhotos {
	out := pagePhotos{}
	for _, p := range sent {
		cmd, err := command.ParseMessage(p.Body, []string{p.ContentType})
		if err == nil && cmd.Verb == sleuth.VerbAddImage {
			key := [2]string{cmd.Collection, cmd.Name}
			out[key] = append(out[key], p)
		}
	}
	return out
}

// before returns the preview of the last photo added as name to
// collection before at (when the face was indexed), or "".
func (pp pagePhotos) before(collection, name string, at time.Time) string {
	candidates := pp[[2]string{collection, name}]
	for i := len(candidates) - 1; i >= 0; i-- {
		if !candidates[i].Time.After(at) {
			return candidates[i].PreviewURL
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
