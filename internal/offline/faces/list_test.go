package faces

import (
	"context"
	"testing"
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
