package build

// Targets lists crossfaas's artifacts, built by All when Options.Targets is
// nil. Each ends up as dist/<Name>.zip.
var Targets = []Target{
	// The Lambda behind GET /detect that forwards to the labeler.
	{Name: "proxy", Kind: Lambda, Package: "./functions/proxy/bootstrap"},
	// Every Lambda of the SMS bot: one binary serving the handler named by
	// the function's handler setting.
	{Name: "sleuth", Kind: Lambda, Package: "./functions/sleuth/bootstrap"},
	// The Cloud Function; Google Cloud builds it from this source.
	{Name: "labeler", Kind: Source, Dir: "functions/labeler"},
}
