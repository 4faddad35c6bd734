// Command cmd serves the labeler locally with functions-framework-go, the
// way Cloud Functions runs it: go run ./cmd, then
// curl 'localhost:8080/?imageUri=gs://YOUR_BUCKET/photo.jpg'.
//
// PORT sets the port (default 8080). LOCAL_ONLY=true listens on 127.0.0.1
// only. Cloud Vision is reached with Application Default Credentials unless
// LABELER_VISION_ENDPOINT points at a fake or an emulator.
package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	// Registers the "Detect" function.
	_ "github.com/crossfaas/crossfaas/functions/labeler"
)

func main() {
	// Serve Detect at "/" as Cloud Functions does, unless told otherwise.
	if os.Getenv("FUNCTION_TARGET") == "" {
		os.Setenv("FUNCTION_TARGET", "Detect")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	hostname := ""
	if os.Getenv("LOCAL_ONLY") == "true" {
		hostname = "127.0.0.1"
	}
	if err := funcframework.StartHostPort(hostname, port); err != nil {
		log.Fatalf("funcframework.StartHostPort: %v", err)
	}
}
