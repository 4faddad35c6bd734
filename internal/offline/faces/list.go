package faces

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Face is an indexed face, as Collections lists it.
type Face struct {
	ExternalID string
	IndexedAt  time.Time
}

// Collection is a collection and its faces, as Collections lists it.
type Collection struct {
	ID    string
	Faces []Face // in the order they were indexed
}

// Collections lists every collection, by id, with its faces (Rekognition's
// ListCollections and ListFaces, for the phone simulator's panel).
func (e *Engine) Collections(ctx context.Context) ([]Collection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("faces: list collections: %w", err)
	}
	var out []Collection
	err := e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(collectionsBucket).ForEachBucket(func(id []byte) error {
			c := Collection{ID: string(id), Faces: []Face{}}
			err := tx.Bucket(collectionsBucket).Bucket(id).ForEach(func(_, v []byte) error {
				var rec record
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("collection %q: %w", id, err)
				}
				c.Faces = append(c.Faces, Face{ExternalID: rec.ExternalID, IndexedAt: rec.IndexedAt})
				return nil
			})
			out = append(out, c)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("faces: list collections: %w", err)
	}
	return out, nil
}
