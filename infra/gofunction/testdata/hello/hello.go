// Package hello stands in for a Cloud Function's module in gofunction's
// example: the example zips it, it is never served.
package hello

import (
	"fmt"
	"net/http"
)

// Hello answers a greeting.
func Hello(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") }
