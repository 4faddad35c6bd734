// Package annotation holds the labeler's reply vocabulary that its callers
// decode too: the engine names, a Label with its translations and the
// SafeSearch likelihoods. It imports nothing, so a caller (the upload
// inspector Lambda) links the labeler's contract without its Vision,
// Translation or functions-framework code.
package annotation

// Engine names reported in the reply's "engine".
const (
	EngineCloudVision = "cloud-vision"
	// EngineOffline is crossfaas dev's offline engine, which has no
	// SafeSearch.
	EngineOffline = "offline"
)

// Label is one thing seen in an image, with Vision's confidence in [0, 1].
// Translations maps a requested language (BCP-47, e.g. "es") to the
// description in that language; it is absent when none was asked for or
// translation is not available.
type Label struct {
	Description  string            `json:"description"`
	Score        float32           `json:"score"`
	Translations map[string]string `json:"translations,omitempty"`
}

// SafeSearch is Vision's estimate of how likely an image is to contain each
// kind of sensitive content. Values are Vision likelihood names:
// "UNKNOWN", "VERY_UNLIKELY", "UNLIKELY", "POSSIBLE", "LIKELY", "VERY_LIKELY".
type SafeSearch struct {
	Adult    string `json:"adult"`
	Spoof    string `json:"spoof"`
	Medical  string `json:"medical"`
	Violence string `json:"violence"`
	Racy     string `json:"racy"`
}
