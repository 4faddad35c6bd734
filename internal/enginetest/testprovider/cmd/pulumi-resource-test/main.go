// Command pulumi-resource-test is the test provider plugin of package
// testprovider. Tests build it once and install it under the names
// pulumi-resource-aws and pulumi-resource-gcp: the name it is started
// under picks the package it stands in for. It is test code; nothing
// deploys with it.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crossfaas/crossfaas/internal/enginetest/testprovider"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func main() {
	pkg := strings.TrimPrefix(filepath.Base(os.Args[0]), "pulumi-resource-")
	rec, err := testprovider.OpenRecorder(os.Getenv(testprovider.EnvRecord))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	prov, err := testprovider.New(pkg, rec, testprovider.EnvFromOS())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = provider.Main(pkg, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return prov, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
