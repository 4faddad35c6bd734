package faces

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

func TestCollections(t *testing.T) {
	e, _ := openEngine(t)
	set := newFaceSet(t)
	if got, err := e.Collections(context.Background()); err != nil || len(got) != 0 {
		t.Fatalf("Collections() of an empty database = %+v, %v, want none", got, err)
	}
	mustCreate(t, e, "people")
	mustCreate(t, e, "empty")
	mustIndex(t, e, "people", "sample_person", set.sample)
	mustIndex(t, e, "people", "right_man", set.rightMan)
	got, err := e.Collections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "empty" || len(got[0].Faces) != 0 || got[1].ID != "people" || len(got[1].Faces) != 2 {
		t.Fatalf("Collections() = %+v, want empty (no faces) and people (2 faces)", got)
	}
	faces := got[1].Faces
	if faces[0].ExternalID != "sample_person" || faces[1].ExternalID != "right_man" || faces[0].IndexedAt.IsZero() || faces[1].IndexedAt.Before(faces[0].IndexedAt) {
		t.Errorf("faces of people = %+v, want sample_person then right_man, with their times", faces)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Collections(ctx); err == nil {
		t.Errorf("Collections(canceled context) = nil error, want one")
	}
}

func TestCollectionCreated(t *testing.T) {
	e, _ := openEngine(t)
	at := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	e.now = func() time.Time { return at }
	mustCreate(t, e, "people")
	e.now = func() time.Time { return at.Add(time.Hour) }
	if created, err := e.CreateCollection(context.Background(), "people"); err != nil || created {
		t.Fatalf("CreateCollection(existing) = %v, %v, want false, nil", created, err)
	}
	if got, err := e.CollectionCreated(context.Background(), "people"); err != nil || !got.Equal(at) {
		t.Errorf("CollectionCreated(people) = %v, %v, want %v (the first creation)", got, err, at)
	}
	if _, err := e.CollectionCreated(context.Background(), "nobody"); !errors.Is(err, sleuth.ErrCollectionNotFound) {
		t.Errorf("CollectionCreated(missing) error = %v, want %v", err, sleuth.ErrCollectionNotFound)
	}
}
