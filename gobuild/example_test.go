package gobuild_test

import (
	"archive/zip"
	"context"
	"fmt"
	"log"
	"os"

	"github.com/crossfaas/crossfaas/gobuild"
)

// Build a Lambda and a Cloud Function's source from one module: the
// Lambda's zip holds bootstrap alone, executable; the source zip holds
// what Cloud Build needs and nothing else.
func Example() {
	out, err := os.MkdirTemp("", "gobuild-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(out)
	arts, err := gobuild.All(context.Background(), gobuild.Options{
		Root:   "testdata/fixture", // the directory of the go.mod
		OutDir: out,
		GOARCH: "arm64",
		Targets: []gobuild.Target{
			{Name: "hello", Kind: gobuild.Lambda, Package: "./hello"},
			{Name: "fn", Kind: gobuild.Source, Dir: "fn"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range arts {
		zr, err := zip.OpenReader(a.Path)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s.zip (sha256 %d hex digits):\n", a.Name, len(a.SHA256))
		for _, f := range zr.File {
			fmt.Printf("  %s %v\n", f.Name, f.Mode())
		}
		zr.Close()
	}
	// Output:
	// hello.zip (sha256 64 hex digits):
	//   bootstrap -rwxr-xr-x
	// fn.zip (sha256 64 hex digits):
	//   default.txt -rw-r--r--
	//   fn.go -rw-r--r--
	//   go.mod -rw-r--r--
	//   go.sum -rw-r--r--
	//   inner/inner.go -rw-r--r--
	//   inner/inner_windows.go -rw-r--r--
}
