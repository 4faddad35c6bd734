package faces

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	set := newFaceSet(t)
	ctx := context.Background()
	indexedAt := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

	e, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%q) = %v", dir, err)
	}
	e.now = func() time.Time { return indexedAt }
	mustCreate(t, e, "people")
	mustIndex(t, e, "people", "sample_person", set.sample)
	if err := e.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := e.SearchFace(ctx, "people", set.sample, 85); err == nil {
		t.Error("SearchFace after Close = nil error, want an error")
	}

	e, err = Open(dir)
	if err != nil {
		t.Fatalf("Open(%q) again = %v", dir, err)
	}
	if created, err := e.CreateCollection(ctx, "people"); err != nil || created {
		t.Errorf("CreateCollection(people) after reopening = %v, %v, want false, nil", created, err)
	}
	got, err := e.SearchFace(ctx, "people", set.sampleVariant, 85)
	if err != nil || got.ExternalID != "sample_person" {
		t.Errorf("SearchFace after reopening = %+v, %v, want sample_person", got, err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	// The stored record: a JSON face with its external id, time and LBP counts.
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var records []record
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(collectionsBucket).Bucket([]byte("people")).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			records = append(records, r)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 {
		t.Fatalf("stored %d records, want 1", len(records))
	}
	r := records[0]
	if r.ExternalID != "sample_person" || !r.IndexedAt.Equal(indexedAt) || len(r.Descriptor) != descriptorLen {
		t.Errorf("stored record = {%q, %v, %d bins}, want {%q, %v, %d bins}", r.ExternalID, r.IndexedAt, len(r.Descriptor), "sample_person", indexedAt, descriptorLen)
	}
	total := 0
	for _, c := range r.Descriptor {
		total += int(c)
	}
	if total != faceSide*faceSide {
		t.Errorf("stored descriptor counts %d pixels, want %d", total, faceSide*faceSide)
	}
}

func TestOpenLocked(t *testing.T) {
	_, dir := openEngine(t)
	old := openTimeout
	openTimeout = 100 * time.Millisecond
	t.Cleanup(func() { openTimeout = old })
	if e, err := Open(dir); err == nil {
		e.Close()
		t.Fatalf("Open(%q) while open = nil error, want a lock error", dir)
	} else if !strings.Contains(err.Error(), "locked") {
		t.Errorf("Open(%q) while open = %v, want it to say the file is locked", dir, err)
	}
}

func TestOpenOtherDescriptorVersion(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		return b.Put(versionKey, []byte("999"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if e, err := Open(dir); err == nil {
		e.Close()
		t.Fatalf("Open(version 999) = nil error, want a version error")
	} else if !strings.Contains(err.Error(), "version 999") || !strings.Contains(err.Error(), FileName) {
		t.Errorf("Open(version 999) = %v, want it to name the version and the file", err)
	}
}

func TestOpenEmptyDir(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Error(`Open("") = nil error, want an error`)
	}
}
