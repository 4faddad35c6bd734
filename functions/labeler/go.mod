module github.com/crossfaas/crossfaas/functions/labeler

go 1.26.0

require (
	cloud.google.com/go/vision/v2 v2.17.1 // indirect
	github.com/GoogleCloudPlatform/functions-framework-go v1.9.2 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/api v0.312.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261104224025-d1e00e9f33ab // indirect
	google.golang.org/grpc v1.85.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
