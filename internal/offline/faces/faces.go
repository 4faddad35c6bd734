// Package faces is the offline face engine of `crossfaas dev`: it
// implements sleuth.Faces with Amazon Rekognition's semantics (collections,
// faces indexed under an external id, search by image with a 0-100
// similarity threshold) on one machine, with no cloud account.
//
// It does real work, classically: pigo's cascade finds the faces
// (Detect), the largest one is described by uniform local binary pattern
// histograms over a 7 x 7 grid, and faces are compared with the chi-square
// distance, mapped to a 0-100 similarity calibrated so that 85 separates
// copies of one face from different people on the test images (see
// similarity in descriptor.go). Descriptors persist in a bbolt file, so
// collections survive restarts. A search compares the probe with every
// face of the collection: fine for the tens of faces of a dev session.
//
// It is much less accurate than Rekognition. It recognizes the same photo
// of a face again after rescaling, cropping, re-encoding or a change of
// brightness, and tells clearly different faces apart, but two different
// photos of one person (another pose, expression, light or age) often score
// below the default threshold of 85, and it only sees roughly frontal,
// upright faces of at least 20 pixels and 1/12 of the photo's shorter side
// (scaled to 640 px). Use it to exercise the bot's flow locally; use
// `crossfaas dev --cloud` (Rekognition) to judge recognition.
package faces

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for IndexFace and SearchFace
	_ "image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the database file Open keeps in its directory.
const FileName = "faces.db"

// Buckets of the database: meta holds the descriptor version the file was
// written with and each collection's creation time (createdKey); collections holds one nested bucket per collection, whose
// keys are big-endian face sequence numbers and whose values are JSON
// records.
var (
	metaBucket        = []byte("meta")
	versionKey        = []byte("descriptorVersion")
	createdPrefix     = "created:" // + collection id: its creation time, RFC 3339
	collectionsBucket = []byte("collections")
)

// openTimeout is how long Open waits for another process's lock.
var openTimeout = 2 * time.Second

// Rekognition's patterns for collection ids and external image ids.
var (
	collectionIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,255}$`)
	externalIDPattern   = regexp.MustCompile(`^[a-zA-Z0-9_.\-:]{1,255}$`)
)

// Engine is a face collection store backed by a bbolt file. It implements
// sleuth.Faces and is safe for concurrent use; build it with Open.
type Engine struct {
	db  *bolt.DB
	now func() time.Time
}

var _ sleuth.Faces = (*Engine)(nil)

// record is one indexed face as stored.
type record struct {
	ExternalID string    `json:"externalId"`
	IndexedAt  time.Time `json:"indexedAt"`
	Descriptor []byte    `json:"descriptor"` // descriptorLen LBP counts
}

// Open opens the face database dir/faces.db (FileName), creating the
// directory and the file if needed. Only one process can hold it: Open
// fails after 2 seconds if another one does. A file written by a build with another descriptor
// version is refused with an error naming it, rather than giving wrong
// matches. Close releases it.
func Open(dir string) (*Engine, error) {
	if dir == "" {
		return nil, errors.New("faces: open: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("faces: open: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("faces: open %s: locked by another process (is another crossfaas dev running?): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("faces: open %s: %w", path, err)
	}
	want := []byte(strconv.Itoa(descriptorVersion))
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(collectionsBucket); err != nil {
			return err
		}
		switch got := meta.Get(versionKey); {
		case got == nil:
			return meta.Put(versionKey, want)
		case !bytes.Equal(got, want):
			return fmt.Errorf("it holds faces of descriptor version %s and this build uses %s: delete it and index the faces again", got, want)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("faces: open %s: %w", path, err)
	}
	return &Engine{db: db, now: time.Now}, nil
}

// Close closes the database, waiting for running calls to finish. Calls
// after Close fail.
func (e *Engine) Close() error {
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("faces: close: %w", err)
	}
	return nil
}

// CreateCollection creates the collection collectionID (Rekognition's
// pattern: 1-255 of [a-zA-Z0-9_.-]); created is false when it already
// existed.
func (e *Engine) CreateCollection(ctx context.Context, collectionID string) (created bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("faces: create collection %q: %w", collectionID, err)
	}
	if !collectionIDPattern.MatchString(collectionID) {
		return false, fmt.Errorf("faces: create collection %q: invalid id: want 1-255 letters, digits, '_', '.' or '-'", collectionID)
	}
	err = e.db.Update(func(tx *bolt.Tx) error {
		all := tx.Bucket(collectionsBucket)
		if all.Bucket([]byte(collectionID)) != nil {
			return nil
		}
		created = true
		if _, err := all.CreateBucket([]byte(collectionID)); err != nil {
			return err
		}
		return tx.Bucket(metaBucket).Put(createdKey(collectionID), []byte(e.now().UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		return false, fmt.Errorf("faces: create collection %q: %w", collectionID, err)
	}
	return created, nil
}

// createdKey is the meta key of a collection's creation time.
func createdKey(collectionID string) []byte { return []byte(createdPrefix + collectionID) }

// CollectionCreated returns when the collection was created; the zero time
// for one created before the engine recorded creation times. Errors wrap
// sleuth.ErrCollectionNotFound for a missing collection.
func (e *Engine) CollectionCreated(ctx context.Context, collectionID string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("faces: describe collection %q: %w", collectionID, err)
	}
	var created time.Time
	err := e.db.View(func(tx *bolt.Tx) error {
		if _, err := collection(tx, collectionID); err != nil {
			return err
		}
		if v := tx.Bucket(metaBucket).Get(createdKey(collectionID)); v != nil {
			var err error
			created, err = time.Parse(time.RFC3339Nano, string(v))
			return err
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("faces: describe collection %q: %w", collectionID, err)
	}
	return created, nil
}

// IndexFace adds the largest face of image (JPEG or PNG bytes) to the
// collection under externalID (Rekognition's pattern: 1-255 of
// [a-zA-Z0-9_.:-]). Several faces may share an external id. Errors wrap
// sleuth.ErrCollectionNotFound, sleuth.ErrBadImage or sleuth.ErrNoFace for
// those outcomes.
func (e *Engine) IndexFace(ctx context.Context, collectionID, externalID string, image []byte) error {
	if err := e.index(ctx, collectionID, externalID, image); err != nil {
		return fmt.Errorf("faces: index face in %q: %w", collectionID, err)
	}
	return nil
}

func (e *Engine) index(ctx context.Context, collectionID, externalID string, img []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !externalIDPattern.MatchString(externalID) {
		return fmt.Errorf("invalid external id %q: want 1-255 letters, digits, '_', '.', ':' or '-'", externalID)
	}
	// Checked first, as Rekognition does, so a missing collection is
	// reported whatever the image.
	if err := e.db.View(func(tx *bolt.Tx) error {
		_, err := collection(tx, collectionID)
		return err
	}); err != nil {
		return err
	}
	g, err := decode(img)
	if err != nil {
		return err
	}
	found := detectGray(g)
	if len(found) == 0 {
		return sleuth.ErrNoFace
	}
	rec, err := json.Marshal(record{
		ExternalID: externalID,
		IndexedAt:  e.now().UTC(),
		Descriptor: indexDescriptor(g, found[0]),
	})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.db.Update(func(tx *bolt.Tx) error {
		b, err := collection(tx, collectionID) // it may have gone meanwhile
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), rec)
	})
}

// FaceIndexed reports whether the collection holds a face indexed under
// externalID. Errors wrap sleuth.ErrCollectionNotFound for a missing
// collection.
func (e *Engine) FaceIndexed(ctx context.Context, collectionID, externalID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("faces: list faces of %q: %w", collectionID, err)
	}
	found := false
	err := e.db.View(func(tx *bolt.Tx) error {
		b, err := collection(tx, collectionID)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r struct {
				ExternalID string `json:"externalId"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("face %x: %w", k, err)
			}
			found = found || r.ExternalID == externalID
			return nil
		})
	})
	if err != nil {
		return false, fmt.Errorf("faces: list faces of %q: %w", collectionID, err)
	}
	return found, nil
}

// SearchFace compares the largest face of image (JPEG or PNG bytes) with
// every face of the collection and returns the most similar one if its
// similarity (0-100) is at least threshold. Errors wrap
// sleuth.ErrCollectionNotFound, sleuth.ErrBadImage, sleuth.ErrNoFace or
// sleuth.ErrNoMatch (also for an empty collection) for those outcomes; a
// threshold outside 0-100 is an error.
func (e *Engine) SearchFace(ctx context.Context, collectionID string, image []byte, threshold float64) (sleuth.Match, error) {
	m, err := e.search(ctx, collectionID, image, threshold)
	if err != nil {
		return sleuth.Match{}, fmt.Errorf("faces: search face in %q: %w", collectionID, err)
	}
	return m, nil
}

func (e *Engine) search(ctx context.Context, collectionID string, img []byte, threshold float64) (sleuth.Match, error) {
	if err := ctx.Err(); err != nil {
		return sleuth.Match{}, err
	}
	if !(threshold >= 0 && threshold <= 100) {
		return sleuth.Match{}, fmt.Errorf("threshold %v is outside 0-100", threshold)
	}
	if err := e.db.View(func(tx *bolt.Tx) error {
		_, err := collection(tx, collectionID)
		return err
	}); err != nil {
		return sleuth.Match{}, err
	}
	g, err := decode(img)
	if err != nil {
		return sleuth.Match{}, err
	}
	found := detectGray(g)
	if len(found) == 0 {
		return sleuth.Match{}, sleuth.ErrNoFace
	}
	probes := probeDescriptors(g, found[0])
	if err := ctx.Err(); err != nil {
		return sleuth.Match{}, err
	}

	best, bestID := -1.0, ""
	err = e.db.View(func(tx *bolt.Tx) error {
		b, err := collection(tx, collectionID)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("face %x: %w", k, err)
			}
			if len(r.Descriptor) != descriptorLen {
				return fmt.Errorf("face %x: descriptor has %d bins, want %d", k, len(r.Descriptor), descriptorLen)
			}
			if d := distance(probes, r.Descriptor); best < 0 || d < best {
				best, bestID = d, r.ExternalID
			}
			return nil
		})
	})
	if err != nil {
		return sleuth.Match{}, err
	}
	if best < 0 {
		return sleuth.Match{}, sleuth.ErrNoMatch
	}
	sim := similarity(best)
	if sim < threshold {
		return sleuth.Match{}, fmt.Errorf("%w: best is %q at %.1f, threshold %.1f", sleuth.ErrNoMatch, bestID, sim, threshold)
	}
	return sleuth.Match{ExternalID: bestID, Similarity: sim}, nil
}

// collection returns the bucket of collection id, or an error wrapping
// sleuth.ErrCollectionNotFound.
func collection(tx *bolt.Tx, id string) (*bolt.Bucket, error) {
	if b := tx.Bucket(collectionsBucket).Bucket([]byte(id)); b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("%w: %q", sleuth.ErrCollectionNotFound, id)
}

// decode decodes a JPEG or PNG image to luminance. Anything else, corrupt
// data and images over 50 megapixels (decompression bombs) are errors
// wrapping sleuth.ErrBadImage.
func decode(data []byte) (*gray, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sleuth.ErrBadImage, err)
	}
	if format != "jpeg" && format != "png" {
		return nil, fmt.Errorf("%w: %s is not supported, only JPEG and PNG", sleuth.ErrBadImage, format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: the image has no pixels", sleuth.ErrBadImage)
	}
	if cfg.Width*cfg.Height > maxDecodedPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels is over the limit of %d megapixels", sleuth.ErrBadImage, cfg.Width, cfg.Height, maxDecodedPixels/1_000_000)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sleuth.ErrBadImage, err)
	}
	return toGray(img), nil
}
