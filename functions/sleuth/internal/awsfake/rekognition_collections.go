// The collection operations of the Rekognition fake.

package awsfake

import (
	"net/http"
	"sort"
	"time"
)

// AddCollection creates a collection, as if CreateCollection had run an
// hour ago.
func (f *Rekognition) AddCollection(collectionID string) {
	f.AddCollectionAt(collectionID, time.Now().Add(-time.Hour))
}

// AddCollectionAt creates a collection, as if CreateCollection had run at
// created.
func (f *Rekognition) AddCollectionAt(collectionID string, created time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.collections[collectionID]; !ok {
		f.collections[collectionID] = []IndexedFace{}
		f.created[collectionID] = created
	}
}

func (f *Rekognition) createCollection(w http.ResponseWriter, r *http.Request) {
	var in struct{ CollectionId string }
	if !decodeJSON(w, r, &in) {
		return
	}
	if !collectionIDPattern.MatchString(in.CollectionId) {
		writeJSONError(w, http.StatusBadRequest, "ValidationException", "invalid CollectionId")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.collections[in.CollectionId]; ok {
		writeJSONError(w, http.StatusBadRequest, "ResourceAlreadyExistsException",
			"The collection id: "+in.CollectionId+" already exists")
		return
	}
	f.collections[in.CollectionId] = []IndexedFace{}
	f.created[in.CollectionId] = time.Now()
	writeJSON(w, rekJSON, map[string]any{
		"CollectionArn":    "aws:rekognition:us-east-1:123456789012:collection/" + in.CollectionId,
		"FaceModelVersion": "7.0",
		"StatusCode":       200,
	})
}

// Collections returns the ids of the collections, sorted.
func (f *Rekognition) Collections() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.collections))
	for id := range f.collections {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (f *Rekognition) listCollections(w http.ResponseWriter, r *http.Request) {
	var in struct {
		MaxResults int
		NextToken  string
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	ids := f.Collections()
	start, end, next, ok := page(in.NextToken, in.MaxResults, len(ids))
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "InvalidPaginationTokenException", "invalid NextToken")
		return
	}
	resp := map[string]any{"CollectionIds": ids[start:end]}
	if next != "" {
		resp["NextToken"] = next
	}
	writeJSON(w, rekJSON, resp)
}

func (f *Rekognition) deleteCollection(w http.ResponseWriter, r *http.Request) {
	var in struct{ CollectionId string }
	if !decodeJSON(w, r, &in) {
		return
	}
	f.mu.Lock()
	_, ok := f.collections[in.CollectionId]
	delete(f.collections, in.CollectionId)
	delete(f.created, in.CollectionId)
	f.mu.Unlock()
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"The collection id: "+in.CollectionId+" does not exist")
		return
	}
	writeJSON(w, rekJSON, map[string]any{"StatusCode": 200})
}

// describeCollection answers with the collection's face count and
// creation time (epoch seconds with a fraction, as the AWS JSON protocol
// writes timestamps).
func (f *Rekognition) describeCollection(w http.ResponseWriter, r *http.Request) {
	var in struct{ CollectionId string }
	if !decodeJSON(w, r, &in) {
		return
	}
	f.mu.Lock()
	faces, ok := f.collections[in.CollectionId]
	created := f.created[in.CollectionId]
	f.mu.Unlock()
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"The collection id: "+in.CollectionId+" does not exist")
		return
	}
	writeJSON(w, rekJSON, map[string]any{
		"CollectionARN":     "aws:rekognition:us-east-1:123456789012:collection/" + in.CollectionId,
		"FaceCount":         len(faces),
		"FaceModelVersion":  "7.0",
		"CreationTimestamp": float64(created.UnixMilli()) / 1000,
	})
}
