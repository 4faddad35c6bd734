// Package awsx adapts AWS services to the interfaces of package sleuth, with
// the aws-sdk-go-v2 clients. Build the clients from one aws.Config
// (config.LoadDefaultConfig): every endpoint can then be redirected with the
// SDK's standard AWS_ENDPOINT_URL_<SERVICE> variables, which is how the tests
// point them at local fakes.
package awsx
