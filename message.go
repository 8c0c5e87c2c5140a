package mamori

// Message is one platform-neutral message. Text may hold <@id> mentions of
// users on the message's platform and *bold*; adapters render both.
//
// Message is one platform-neutral message. Flows build it with every text
// already in the reader's language; bot adapters render it (Block Kit,
// Adaptive Cards, the terminal) and add nothing a person reads.
type Message struct {
	// Ref, when set, names the message so a later one with the same Ref
	// updates it in place instead of posting anew (chat.update).
	Ref    string `json:"ref,omitempty"`
	Header string `json:"header,omitempty"`
	Text   string `json:"text,omitempty"`
	// Fields are label/value pairs: a summary or a case card.
	Fields []Field `json:"fields,omitempty"`
	// Step names the conversation step the actions belong to, so a click on
	// an old message is recognised as stale.
	Step string `json:"step,omitempty"`
	// Choices are buttons; one click answers.
	Choices []Choice `json:"choices,omitempty"`
	// Multi is a multi-choice question answered with a submit button.
	Multi *Multi `json:"multi,omitempty"`
	// Prompt, when set, asks for free text and says how to answer.
	Prompt string `json:"prompt,omitempty"`
	// Controls are the small navigation buttons (back, later, cancel).
	Controls []Choice `json:"controls,omitempty"`
	// Note is a small line under the message (privacy, hints).
	Note string `json:"note,omitempty"`
	// Urgent marks an alert that needs attention now.
	Urgent bool `json:"urgent,omitempty"`
	// Image is a picture sent with the message (a chart).
	Image *Image `json:"image,omitempty"`
	// Respond, on a reply to the user's own input, is the handle that
	// input came with (Input.Respond): a sender may answer through it
	// instead of posting anew, when it is still valid.
	Respond string `json:"respond,omitempty"`
	// Tidy, with Ref, only updates the message posted under Ref (a
	// reminder now out of date): when none was posted, nothing is sent.
	Tidy bool `json:"tidy,omitempty"`
}

// Image is a PNG sent with a message.
type Image struct {
	Name string `json:"name"` // file name, e.g. "kasuhara-2026-10.png"
	Alt  string `json:"alt"`  // what it shows, for screen readers
	PNG  []byte `json:"png"`
}

// Choice is one button or option.
type Choice struct {
	Value string `json:"value"`
	Label string `json:"label"`
	Style string `json:"style,omitempty"` // "", "primary" or "danger"
}

// Button styles.
const (
	StylePrimary = "primary"
	StyleDanger  = "danger"
)

// Multi is a multi-select question.
type Multi struct {
	Options  []Choice `json:"options"`
	Selected []string `json:"selected,omitempty"`
	Submit   Choice   `json:"submit"`
}

// Field is one label/value line.
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Target says where a message goes: a user's direct messages or a channel.
type Target struct {
	Platform string `json:"platform"`
	Kind     string `json:"kind"` // TargetUser or TargetChannel
	ID       string `json:"id"`
	// Thread, when set, is the Ref of the message whose thread this one
	// goes in (a case card's thread).
	Thread string `json:"thread,omitempty"`
}

// Target kinds.
const (
	TargetUser    = "user"
	TargetChannel = "channel"
)
