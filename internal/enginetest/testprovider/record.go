package testprovider

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Call is one provider call, as recorded. It never holds property values.
type Call struct {
	Time    time.Time `json:"time"`
	Package string    `json:"package"`
	Method  string    `json:"method"`
	Type    string    `json:"type,omitempty"`
	Name    string    `json:"name,omitempty"`
	URN     string    `json:"urn,omitempty"`
	ID      string    `json:"id,omitempty"`
	// Token is the data source an Invoke called.
	Token string `json:"token,omitempty"`
	// Changed and Replaces are the input keys a Diff found changed, and
	// those of them that force a replacement.
	Changed  []string `json:"changed,omitempty"`
	Replaces []string `json:"replaces,omitempty"`
}

// Recorder appends calls to a JSON-lines file. A nil Recorder records
// nothing.
type Recorder struct {
	mu   sync.Mutex
	file *os.File
	now  func() time.Time
}

// OpenRecorder opens path for appending; "" gives a nil Recorder. Several
// provider processes may append to one file: each call is written with a
// single write of one line.
func OpenRecorder(path string) (*Recorder, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open recorder: %w", err)
	}
	return &Recorder{file: f, now: time.Now}, nil
}

// Record appends c. Failing to record fails loudly on stderr, which the
// engine shows, rather than failing the call.
func (r *Recorder) Record(c Call) {
	if r == nil {
		return
	}
	c.Time = r.now().UTC()
	b, err := json.Marshal(c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "test provider: record %s: %v\n", c.Method, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.file.Write(append(b, '\n')); err != nil {
		fmt.Fprintf(os.Stderr, "test provider: record %s: %v\n", c.Method, err)
	}
}

// ReadCalls reads a file written by Recorders; a missing file holds no
// calls.
func ReadCalls(path string) ([]Call, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read calls: %w", err)
	}
	defer f.Close()
	var calls []Call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var c Call
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("read calls: %s: %w", path, err)
		}
		calls = append(calls, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read calls: %w", err)
	}
	return calls, nil
}
